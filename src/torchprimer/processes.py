"""Stop a process and everything it started, and tidy its output for a notebook.

Hand-written support for chapter 09's ``torchrun`` function (``torchprimer.launch``):
the chapter uses these helpers and says what they do, but does not teach their code.

- :func:`start_process_tree` starts a process in a session of its own and marks every
  process it starts.
- :class:`Watchdog` stops a process after a timeout, and what it leaves behind when it
  ends.
- :func:`stop_process_tree` ends a process and every process it started: SIGTERM, then
  SIGKILL, and on Linux also the workers torchrun starts in sessions of their own,
  found by their mark even once torchrun is gone; on Windows ``taskkill /T``.
- :func:`tidy_line` shortens a line of torchrun's output for a notebook page.
- :func:`failure_message` says why a run failed, with its last lines.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = [
    "Watchdog",
    "failure_message",
    "start_process_tree",
    "stop_process_tree",
    "tidy_line",
]

# torchrun's own log lines start with level, date, time, process id and source line:
# "E1127 07:36:41.278000 13860 torch/distributed/elastic/.../api.py:1002] failed ..."
_LOG_PREFIX = re.compile(r"^[DIWEF]\d{4} [\d:.]+ +\d+ \S+:\d+\] ")
# absolute paths of Python files, shown from the package folder on: torch/..., ...
_FILE_PATH = re.compile(
    r"(?:[A-Za-z]:)?[/\\][^\s\"'<>]*?[/\\](?=(?:torch|torchprimer)[/\\])"
)
_STOP_WAIT_S = 30  # a process gets this long to stop its children after SIGTERM
# The environment variable that marks every process a run starts, and each run's mark.
MARK = "TORCHPRIMER_PROCESS_TREE"
_MARKS: dict[int, str] = {}  # process id -> its mark


def start_process_tree(
    command: Sequence[str], env: Mapping[str, str]
) -> subprocess.Popen:
    """Start ``command`` in a session of its own, its output (stdout and stderr) on one
    text pipe. Every process it starts carries a mark in its environment, so that
    :func:`stop_process_tree` finds them all, even once they have been orphaned."""
    mark = secrets.token_hex(8)
    process = subprocess.Popen(
        command,
        env={**env, MARK: mark},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    _MARKS[process.pid] = mark
    return process


class Watchdog:
    """Watches ``process`` from a thread: after ``timeout`` seconds it stops the
    process and everything it started; if the process ends first (torchrun killed,
    say), it stops whatever that left behind at once, since those processes would
    hold the output pipe open. :meth:`cancel` ends the watch."""

    def __init__(self, process: subprocess.Popen, timeout: float) -> None:
        self.timeout, self.fired = timeout, threading.Event()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=[process], daemon=True)
        self._thread.start()

    def _watch(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.timeout
        while not self._cancelled.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                self.fired.set()
                break
            try:
                process.wait(timeout=min(left, 0.2))
                break  # it ended: its leftovers go below
            except subprocess.TimeoutExpired:
                continue
        if not self._cancelled.is_set():
            stop_process_tree(process)

    def cancel(self) -> None:
        self._cancelled.set()


def stop_process_tree(process: subprocess.Popen) -> None:
    """End ``process`` (torchrun) and every process it started (its workers).

    While it runs: SIGTERM to its process group, on which torchrun stops its workers,
    then SIGKILL if it takes longer than ``_STOP_WAIT_S``. Then, on Linux, SIGKILL to
    every process still running with its mark (:func:`start_process_tree`): torchrun
    starts each worker in a session of its own, so a torchrun that was killed, or that
    got SIGTERM while it was still starting them, leaves them running. On Windows,
    ``taskkill /T`` ends the whole tree.
    """
    if _on_windows():
        if process.poll() is None:
            tree = ["taskkill", "/F", "/T", "/PID", str(process.pid)]
            subprocess.run(tree, capture_output=True, check=False)
        process.wait()
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):  # it may end in the meantime
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    mark = _MARKS.get(process.pid)
    if mark is not None:
        _kill_marked(mark)


def _on_windows() -> bool:
    return os.name == "nt"


def _marked(mark: str) -> list[int]:
    """Process ids of the running processes whose environment holds ``mark``, from
    /proc (Linux); an empty list where there is no /proc."""
    wanted = f"{MARK}={mark}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            entries = environ.read_bytes().split(b"\0")
            state = (environ.parent / "stat").read_text()
        except OSError:  # it ended meanwhile, or belongs to another user
            continue
        zombie = state[state.rfind(")") + 2 :].startswith("Z")
        if wanted in entries and not zombie and environ.parent.name != str(os.getpid()):
            found.append(int(environ.parent.name))
    return found


def _kill_marked(mark: str, wait_s: float = 10) -> None:
    """SIGKILL every process that carries ``mark``, and wait until none is left."""
    deadline = time.monotonic() + wait_s
    while (pids := _marked(mark)) and time.monotonic() < deadline:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


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
