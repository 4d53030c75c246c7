"""Atomic writes that survive a killed process: infrastructure shared by the package.

A file is written under a hidden temporary name beside its target and renamed over it
only when complete. The temporary name carries the writer's process id, so a later run
can tell a leftover of a killed process (``kill -9``, a power cut) from a write that is
still going on, and remove it. Temporary files are created with ``open(..., "xb")``, so
they get the usual permissions under the user's umask (``tempfile.mkstemp`` would make
them 0600, unreadable for anyone else once renamed into place).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

__all__ = ["fsync_folder", "remove_stale_temporaries", "temporary_path"]

# Where process ids cannot be checked (Windows), a leftover this old counts as stale.
STALE_AFTER_S = 24 * 3600


def temporary_path(target: Path) -> Path:
    """A new hidden name beside ``target``: ``.<name>.<pid>.<random>.tmp``."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def _writer_is_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def remove_stale_temporaries(folder: Path, name: str) -> list[Path]:
    """Delete the temporaries of ``folder/name`` whose writer no longer runs.

    Returns the paths removed. Only names of the form ``.<name>.<pid>.<8 hex>.tmp``
    count (so ``model.pt`` never touches a save of ``model.pt.bak`` in progress), plus
    ``.<name>.<8 characters>.tmp`` from ``tempfile.mkstemp``, an older naming that
    carries no process id and is always stale.
    """
    pattern = re.compile(
        rf"\.{re.escape(name)}\.(?:(?P<pid>\d+)\.[0-9a-f]{{8}}|[a-z0-9_]{{8}})\.tmp"
    )
    removed = []
    for tmp in Path(folder).iterdir():
        match = pattern.fullmatch(tmp.name)
        if match is None:
            continue
        pid = match["pid"]
        if pid is None:
            stale = True
        elif os.name != "nt":
            stale = not _writer_is_running(int(pid))
        else:
            stale = time.time() - tmp.stat().st_mtime > STALE_AFTER_S
        if stale:
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


def fsync_folder(folder: Path) -> None:
    """Flush ``folder``'s own entry list to the disk, so that a file just renamed into
    it survives a power failure (a no-op on Windows, where folders cannot be opened)."""
    if os.name == "nt":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
