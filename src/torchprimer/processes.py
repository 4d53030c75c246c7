"""Stop a process and everything it started, and tidy its output for a notebook.

Hand-written support for chapter 09's ``torchrun`` function (``torchprimer.launch``):
the chapter uses these helpers and says what they do, but does not teach their code.

- :class:`Watchdog` stops a process after a timeout.
- :func:`stop_process_tree` ends a process and every process it started: SIGTERM, then
  SIGKILL, and on Linux also the workers torchrun starts in sessions of their own.
- :func:`tidy_line` shortens a line of torchrun's output for a notebook page.
- :func:`failure_message` says why a run failed, with its last lines.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

__all__ = ["Watchdog", "failure_message", "stop_process_tree", "tidy_line"]

# torchrun's own log lines start with level, date, time, process id and source line:
# "E1127 07:36:41.278000 13860 torch/distributed/elastic/.../api.py:1002] failed ..."
_LOG_PREFIX = re.compile(r"^[DIWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
# absolute paths of Python files, shown from the package folder on: torch/..., ...
_FILE_PATH = re.compile(
    r"(?:[A-Za-z]:)?[/\\][^\s\"'<>]*?[/\\](?=(?:torch|torchprimer)[/\\])"
)
_STOP_WAIT_S = 30  # a process gets this long to stop its children after SIGTERM


class Watchdog:
    """Stops ``process`` after ``timeout`` seconds, unless cancelled before."""

    def __init__(self, process: subprocess.Popen, timeout: float) -> None:
        self.timeout, self.fired = timeout, threading.Event()
        self._timer = threading.Timer(timeout, self._fire, [process])
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, process: subprocess.Popen) -> None:
        self.fired.set()
        stop_process_tree(process)

    def cancel(self) -> None:
        self._timer.cancel()


def stop_process_tree(process: subprocess.Popen) -> None:
    """End torchrun and its workers: SIGTERM first (torchrun then stops its workers),
    SIGKILL to its process group if that takes longer than ``_STOP_WAIT_S``.

    torchrun starts each worker in a session of its own, and a SIGTERM that reaches it
    while it is still starting them leaves them running (its agent does not know them
    yet). So the workers are looked up while torchrun lives, and whichever of them is
    still running once torchrun has ended gets SIGKILL.
    """
    if process.poll() is not None:
        return
    if os.name != "posix":
        process.terminate()
        process.wait()
        return
    workers = _descendants(process.pid)
    with contextlib.suppress(ProcessLookupError):  # it may end in the meantime
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_WAIT_S
    while process.poll() is None and time.monotonic() < deadline:
        workers |= _descendants(process.pid)
        time.sleep(0.05)
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    for pid, started in workers:
        if _start_time(pid) == started:  # still the same process, not a reused pid
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _stat(path: Path) -> tuple[int, str] | None:
    """(parent pid, start time in clock ticks after boot) from a ``/proc/PID/stat``
    file, or None if that process has ended (a zombie has ended too)."""
    try:
        text = path.read_text()
    except OSError:  # the process ended meanwhile, or there is no /proc (macOS)
        return None
    fields = text[text.rfind(")") + 2 :].split()  # after "pid (command name) "
    return None if fields[0] == "Z" else (int(fields[1]), fields[19])


def _start_time(pid: int) -> str | None:
    """When process ``pid`` started, or None if it has ended; Linux only."""
    stat = _stat(Path(f"/proc/{pid}/stat"))
    return None if stat is None else stat[1]


def _descendants(pid: int) -> set[tuple[int, str]]:
    """(pid, start time) of every process below ``pid``, from one pass over /proc; an
    empty set where there is no /proc (macOS)."""
    table = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        if (stat := _stat(path)) is not None:
            table[int(path.parent.name)] = stat
    children: dict[int, list[int]] = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), list(children.get(pid, []))
    while todo:
        child = todo.pop()
        found.add((child, table[child][1]))
        todo += children.get(child, [])
    return found


def tidy_line(line: str) -> str | None:
    """A line of output as shown in a notebook, or None to leave it out: the frames of
    a traceback are left out (its first and last lines stay), torchrun's log prefix
    becomes ``torchrun:``, and paths of files start at the package's folder."""
    line = line.rstrip()
    text = re.sub(r"^\[rank\d+\]: ?", "", line)  # a prefix of torch's tracebacks
    if not text.strip() or text[0].isspace():
        return None
    line = _LOG_PREFIX.sub("torchrun: ", line)
    line = line.replace(f" of binary: {sys.executable}", "")
    return _FILE_PATH.sub("", line)


def failure_message(returncode: int, watchdog: Watchdog, lines: list[str]) -> str:
    """Why a run ended with ``returncode`` (or was stopped by ``watchdog``), followed
    by its last 40 lines."""
    reason = (
        f"ran longer than timeout={watchdog.timeout:g} s and was stopped"
        if watchdog.fired.is_set()
        else f"exited with code {returncode}"
    )
    tail = "\n".join(lines[-40:])
    return f"torchrun {reason}. Its last lines:\n{tail}"
