"""Generate the learner's exercise notebooks (and the site's pages) from the solutions.

Authors edit ``notebooks/exercises/NN_topic_solutions.ipynb``; ``make exercises``
writes ``NN_topic_exercises.ipynb`` beside it, so the two cannot drift (a test fails
when an exercise notebook is stale). In the solutions' code cells:

    # BEGIN SOLUTION ... # END SOLUTION   the solution; the learner gets `...`
    x = value  # SOLUTION                 one line; the learner gets `x = ...`
    # BEGIN STARTER ... # END STARTER     commented-out code the learner gets instead
                                          (a buggy version to fix; no `...` then)

The site page of a chapter's exercises shows the learner's code, and each solution in
a toggle that is closed until clicked.

    python -m tools.exercises [--check] [--site DIR]
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from tools.course import ROOT

__all__ = ["build", "learner_source", "solution_source", "main"]

EXERCISES = ROOT / "notebooks" / "exercises"
MARK = re.compile(r"^(\s*)# (BEGIN|END) (SOLUTION|STARTER)\s*$")
LINE_SOLUTION = re.compile(r"^(\s*[^#=]+?=)[^=].*?#\s*SOLUTION\s*$")
STUB = "...  # your code here"


def is_exercise_cell(source: str) -> bool:
    lines = source.splitlines()
    return any(MARK.match(line) or LINE_SOLUTION.match(line) for line in lines)


def learner_source(source: str) -> str:
    """The code the learner receives: solutions out, starter code in."""
    has_starter = "# BEGIN STARTER" in source
    out: list[str] = []
    block = None
    for line in source.splitlines():
        mark = MARK.match(line)
        if mark:
            indent, edge, kind = mark.groups()
            if edge == "BEGIN":
                if block:
                    raise ValueError(
                        f"a {kind} block inside a {block} block:\n{source}"
                    )
                block = kind
                if kind == "SOLUTION" and not has_starter:
                    out.append(indent + STUB)
            elif block != kind:
                raise ValueError(f"END {kind} without BEGIN {kind}:\n{source}")
            else:
                block = None
            continue
        if block == "SOLUTION":
            continue
        if block == "STARTER":
            stripped = line.lstrip()
            if not (stripped.startswith("# ") or stripped == "#"):
                raise ValueError(f"STARTER lines must be commented out: {line!r}")
            out.append(line[: len(line) - len(stripped)] + stripped[2:])
            continue
        single = LINE_SOLUTION.match(line)
        out.append(f"{single.group(1)} ..." if single else line)
    if block:
        raise ValueError(f"BEGIN {block} without END {block}:\n{source}")
    return "\n".join(out)


def solution_source(source: str) -> str:
    """The solution as the site shows it: no markers, no starter code."""
    out: list[str] = []
    block = None
    for line in source.splitlines():
        mark = MARK.match(line)
        if mark:
            block = mark.group(3) if mark.group(2) == "BEGIN" else None
            continue
        if block != "STARTER":
            out.append(re.sub(r"\s*#\s*SOLUTION\s*$", "", line))
    return "\n".join(out)


def _clean(cell: NotebookNode) -> NotebookNode:
    cell = copy.deepcopy(cell)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
    return cell


def build(solutions: NotebookNode) -> tuple[NotebookNode, NotebookNode]:
    """(the learner's notebook, the site's page) for one solutions notebook."""
    learner = nbformat.v4.new_notebook(metadata=copy.deepcopy(solutions.metadata))
    site = nbformat.v4.new_notebook(metadata=copy.deepcopy(solutions.metadata))
    for cell in solutions.cells:
        if cell.cell_type == "code" and is_exercise_cell(cell.source):
            mine = _clean(cell)
            mine.source = learner_source(cell.source)
            learner.cells.append(mine)
            site.cells.append(copy.deepcopy(mine))
            code = solution_source(cell.source)
            site.cells.append(
                nbformat.v4.new_markdown_cell(
                    f":::{{admonition}} Solution\n:class: dropdown\n\n```python\n"
                    f"{code}\n```\n:::"
                )
            )
        else:
            learner.cells.append(_clean(cell))
            site.cells.append(_clean(cell))
    for prefix, nb in (("e", learner), ("s", site)):
        for index, cell in enumerate(nb.cells):  # stable ids: a rebuild changes nothing
            cell.id = f"{prefix}{index:03d}"
    return learner, site


def _text(nb: NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.exercises")
    parser.add_argument("--check", action="store_true", help="exit 1 if one is stale")
    parser.add_argument("--site", type=Path, help="also write the site pages here")
    parser.add_argument("--folder", type=Path, default=EXERCISES)
    args = parser.parse_args(argv)
    stale = []
    sources = sorted(args.folder.glob("[0-9][0-9]_*_solutions.ipynb"))
    for source in sources:
        learner, site = build(nbformat.read(source, as_version=4))
        name = source.name.replace("_solutions.ipynb", "_exercises.ipynb")
        target = source.with_name(name)
        if args.check:
            current = target.read_text(encoding="utf-8") if target.exists() else ""
            if current != _text(learner):
                stale.append(target)
        else:
            target.write_text(_text(learner), encoding="utf-8")
        if args.site:
            args.site.mkdir(parents=True, exist_ok=True)
            (args.site / name).write_text(_text(site), encoding="utf-8")
    if stale:
        names = "\n  ".join(str(p) for p in stale)
        print(f"stale, run `make exercises`:\n  {names}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
