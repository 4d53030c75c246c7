"""Execute chapters for ``make book`` (papermill) and ``make execute`` (in place).

``make book`` runs::

    python -m tools.book --out _build/executed [--param NAME=VALUE ...] NB ...

and ``make execute`` runs ``python -m tools.book --in-place NB ...``. The papermill
smoke runs of ``make test`` go through :func:`execute` too.

Each ``--param`` must be a parameter of every selected notebook: a misspelt name stops
the run before any kernel starts and lists the notebook's parameters. A failure names
the notebook and the cell, and the executed copy marks it. What the kernels print
outside the notebook (warnings at startup, C++ lines of the profiler) goes to
``_build/logs/NN_topic.log``, and is shown only when a chapter fails: a normal run
prints one line per chapter and a summary. papermill's injected
``# Parameters`` cell is tagged ``remove-cell`` so the site does not show it.

Progress bars: in JupyterLab, ``tqdm.auto`` draws a live widget. A widget has no text
of its own in a saved notebook (only its state at the start, "0%"), so after a run
each progress-bar widget is replaced by one line of text with the bar's final state,
as a terminal would show it; the static site and the stored outputs show that line.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime
import html
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.course import CourseError, declared_parameters, load

__all__ = [
    "BookError",
    "check_names",
    "execute",
    "execute_in_place",
    "finalize_progress_bars",
    "parse_param",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

HIDDEN_TAG = "remove-cell"


class BookError(RuntimeError):
    """A chapter could not be executed; the message says which and why."""


def parse_param(text: str) -> tuple[str, Any]:
    """``"NUM_EPOCHS=3"`` -> ``("NUM_EPOCHS", 3)``; a value that is not a Python literal
    stays a string (``DEVICE=cuda`` -> ``"cuda"``)."""
    name, sep, raw = text.partition("=")
    if not sep or not name.isidentifier():
        raise BookError(f"--param {text!r}: write NAME=VALUE, e.g. NUM_EPOCHS=3")
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = raw
    return name, value


def _bar_text(state: dict[str, Any], model_id: str) -> str | None:
    """The final text of a tqdm notebook bar (an HBox of HTML, FloatProgress, HTML)."""
    box = state.get(model_id, {})
    if box.get("model_name") != "HBoxModel":
        return None
    children = [
        state.get(c.removeprefix("IPY_MODEL_"), {})
        for c in box["state"].get("children", [])
    ]
    names = [c.get("model_name") for c in children]
    if names != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
        return None
    left, bar, right = (c["state"] for c in children)
    filled = round(10 * bar.get("value", 0) / bar["max"]) if bar.get("max") else 0
    text = f"{left.get('value', '')}|{'█' * filled}{' ' * (10 - filled)}|"
    return html.unescape(text + right.get("value", "")).replace("\u2007", " ")


def finalize_progress_bars(nb: dict[str, Any]) -> int:
    """Replace every tqdm widget output by one text line; return how many."""
    widgets = nb.get("metadata", {}).pop("widgets", {})
    state = widgets.get(WIDGET_STATE, {}).get("state", {})
    replaced = 0
    for cell in nb["cells"]:
        for i, out in enumerate(cell.get("outputs", [])):
            view = out.get("data", {}).get(WIDGET_VIEW)
            text = _bar_text(state, view["model_id"]) if view else None
            if text is not None:
                data = {"text/plain": text}
                cell["outputs"][i] = {**out, "data": data, "metadata": {}}
                replaced += 1
    return replaced


PROVENANCE = "torchprimer"  # the notebook metadata key of provenance()


def provenance(device: str, seconds: float) -> dict[str, Any]:
    """Where and when a chapter was executed, for its page: the date (UTC), torch's
    version, the device, the CPU's capability (the kernels torch picked), the number
    of threads, and the wall time. The kernel ran in this environment, on this machine,
    so this process reads the same values."""
    import torch

    from torchprimer.devices import get_device

    return {
        "executed": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "torch": torch.__version__,
        "device": get_device(device).type,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "threads": torch.get_num_threads(),
        "seconds": round(seconds),
    }


def _device(path: Path, parameters: dict[str, Any]) -> str:
    """The DEVICE a run uses: the one passed, else the notebook's default."""
    if "DEVICE" in parameters:
        return str(parameters["DEVICE"])
    default = declared_parameters(load(path)).get("DEVICE", '"cpu"')
    return ast.literal_eval(default)


def _tidy(out: Path, record: dict[str, Any]) -> None:
    """Hide papermill's injected cell; progress-bar widgets become final text lines;
    ``record`` goes into the notebook's metadata."""
    nb = json.loads(out.read_text(encoding="utf-8"))
    nb["metadata"][PROVENANCE] = record
    for cell in nb["cells"]:
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "injected-parameters" in tags and HIDDEN_TAG not in tags:
            tags.append(HIDDEN_TAG)
    finalize_progress_bars(nb)
    text = json.dumps(nb, indent=1, ensure_ascii=False) + "\n"
    out.write_text(text, encoding="utf-8")


def check_names(path: Path, parameters: dict[str, Any]) -> None:
    """Raise :class:`BookError` listing the notebook's parameters for unknown names."""
    try:
        declared = declared_parameters(load(path), where=str(path))
    except CourseError as err:
        raise BookError(str(err)) from None
    unknown = sorted(set(parameters) - set(declared))
    if unknown:
        listing = "\n".join(f"  {name} = {code}" for name, code in declared.items())
        raise BookError(
            f"{path.name} has no parameter {', '.join(unknown)}. "
            f"Its parameters (with defaults) are:\n{listing}"
        )


def execute(
    path: str | Path, out_dir: str | Path, parameters: dict[str, Any], cwd: str | Path
) -> Path:
    """Run one notebook with papermill into ``out_dir``; raise :class:`BookError`."""
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    path, out = Path(path), Path(out_dir) / Path(path).name
    check_names(path, parameters)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)  # never leave an older run to be mistaken for this one
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(path),
            str(out),
            parameters=parameters,
            kernel_name="python3",
            cwd=str(cwd),
            progress_bar=False,
            log_output=False,
        )
    except PapermillExecutionError as err:
        raise BookError(
            f"{path.name}: cell [{err.exec_count}] raised {err.ename}: {err.evalue}\n"
            f"  The executed copy, with the failing cell marked, is {out}"
        ) from None
    except Exception as err:  # the kernel did not start, or died
        raise BookError(
            f"{path.name}: could not be executed ({type(err).__name__}: {err})"
        ) from None
    seconds = time.perf_counter() - start
    _tidy(out, provenance(_device(path, parameters), seconds))
    return out


def execute_in_place(path: str | Path, cwd: str | Path) -> Path:
    """Run a notebook top to bottom in a fresh kernel and store its outputs in place.

    Nothing is written if a cell fails: the stored outputs stay those of the last
    complete run.
    """
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=900,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as err:
        raise BookError(
            f"{path.name}: {err}\n  {path.name} was left unchanged"
        ) from None
    seconds = time.perf_counter() - start
    nb.metadata[PROVENANCE] = provenance(_device(path, {}), seconds)
    finalize_progress_bars(nb)
    nbformat.write(nbformat.from_dict(nb), path)
    return path


@contextlib.contextmanager
def output_to(log: Path) -> Iterator[None]:
    """Send everything written to this process's stdout and stderr, and to those of the
    processes it starts (the kernel: its startup warnings, the profiler's C++ lines),
    to ``log`` while the block runs."""
    log.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with open(log, "ab") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, original in zip((1, 2), saved):
                os.dup2(original, fd)
                os.close(original)


def _tail(log: Path, lines: int = 30) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.book")
    parser.add_argument("notebooks", nargs="+", type=Path)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, help="output folder (papermill)")
    where.add_argument("--in-place", action="store_true", help="store outputs in NB")
    parser.add_argument("--cwd", type=Path, default=Path("notebooks"))
    parser.add_argument(
        "--param", action="append", default=[], help="NAME=VALUE, repeatable"
    )
    parser.add_argument(
        "--logs", type=Path, default=Path("_build/logs"), help="kernel output goes here"
    )
    args = parser.parse_args(argv)
    total = time.perf_counter()
    try:
        parameters = dict(parse_param(p) for p in args.param)
        if args.in_place and parameters:
            raise BookError("--in-place runs with the stored defaults: no --param")
        for path in args.notebooks:  # every name is checked before anything runs
            check_names(path, parameters)
        shown = " ".join(f"{k}={v!r}" for k, v in parameters.items())
        for n, path in enumerate(args.notebooks, 1):
            print(f"[{n}/{len(args.notebooks)}] {path.name} {shown}".rstrip(), end="")
            log = args.logs / f"{path.stem}.log"
            log.unlink(missing_ok=True)
            start = time.perf_counter()
            try:
                with output_to(log):
                    if args.in_place:
                        execute_in_place(path, args.cwd)
                    else:
                        execute(path, args.out, parameters, args.cwd)
            except BookError as err:
                print()
                raise BookError(
                    f"{err}\n  Its output ({log}) ends:\n{_tail(log)}"
                ) from None
            print(f": done in {time.perf_counter() - start:.0f} s", flush=True)
    except BookError as err:
        print(f"FAILED: {err}", file=sys.stderr)
        return 1
    minutes, seconds = divmod(round(time.perf_counter() - total), 60)
    where = "in place" if args.in_place else f"into {args.out}/"
    took = f"{minutes} min {seconds} s"
    print(f"{len(args.notebooks)} chapter(s) executed {where} in {took}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
