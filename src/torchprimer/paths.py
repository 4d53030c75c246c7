"""Paths inside the course's repository, whatever the working directory.

Hand-written, not taught. The chapters' path parameters (``DATA_ROOT``, ``MODELS_DIR``,
``LABELS_FILE``) are relative to the repository, not to the directory a notebook runs
in: JupyterLab starts a kernel in the notebook's folder, but papermill, a script or an
IDE may start it anywhere, and a path relative to *that* would read and write outside
the repository. :func:`repository_path` turns such a parameter into a path that works
from the current directory.

The repository is found from where this package is installed (``make setup`` installs
it in editable mode, from ``src/``); set ``TORCHPRIMER_ROOT`` to point elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV_VAR", "RepositoryNotFoundError", "repository_path", "repository_root"]

ENV_VAR = "TORCHPRIMER_ROOT"
MARKER = "course.toml"  # only the course's repository has it at its top


class RepositoryNotFoundError(RuntimeError):
    """The course's repository could not be found; the message says how to fix it."""


def repository_root() -> Path:
    """The course's repository: ``$TORCHPRIMER_ROOT`` if set, else the folder this
    package was installed from (``src/torchprimer/`` -> the folder above ``src/``)."""
    configured = os.environ.get(ENV_VAR)
    root = Path(configured) if configured else Path(__file__).resolve().parents[2]
    if not (root / MARKER).is_file():
        where = f"{ENV_VAR}={configured}" if configured else f"torchprimer in {root}"
        raise RepositoryNotFoundError(
            f"{where} is not the torchprimer repository (it has no {MARKER}). Install "
            f"the package from the repository with `make setup` (pip install -e .), "
            f"or set {ENV_VAR} to the repository's folder"
        )
    return root.resolve()


def repository_path(path: str | os.PathLike[str]) -> Path:
    """``path`` as it is if it is absolute; else taken relative to the repository.

    Inside the repository the result is relative to the current directory, so that
    printed paths stay short and the same on every machine (``../data`` from
    ``notebooks/``); from outside it, the result is absolute.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    target = repository_root() / path
    here = Path.cwd().resolve()
    if not here.is_relative_to(repository_root()):
        return target
    return Path(os.path.relpath(target, here))
