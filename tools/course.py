"""The course manifest (``course.toml``) and the notebook helpers every tool shares.

One helper per job: a cell's source, its tags, the parameters a chapter declares, and
the chapters themselves, in reading order, with their titles, run times and smoke
parameters. Tests, ``make book``, ``make export``, the exercise builder and the site
all read them from here.
"""

from __future__ import annotations

import ast
import json
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "course.toml"
SEPARATOR = " · "  # a chapter's title line reads "# NN · Title"


class CourseError(ValueError):
    """course.toml, or a notebook it names, is not as the course needs it."""


@dataclass(frozen=True)
class Chapter:
    """One chapter of the course, as course.toml lists it."""

    number: str
    path: Path
    title: str
    run_time_s: int
    smoke: dict[str, Any] = field(default_factory=dict)
    goal: str = ""
    figure: str = ""
    figure_alt: str = ""

    @property
    def name(self) -> str:  # "05_training"
        return self.path.stem

    @property
    def heading(self) -> str:  # "# 05 · Training"
        return f"# {self.number}{SEPARATOR}{self.title}"

    @property
    def solutions(self) -> Path:
        return self.path.parent / "exercises" / f"{self.name}_solutions.ipynb"

    @property
    def exercises(self) -> Path:
        return self.path.parent / "exercises" / f"{self.name}_exercises.ipynb"

    def run_time(self) -> str:
        """The run time as the site shows it: "about 9 s", "about 2 min"."""
        seconds = self.run_time_s
        return (
            f"about {round(seconds / 60)} min"
            if seconds >= 90
            else f"about {seconds} s"
        )


def _chapter(entry: dict[str, Any], root: Path) -> Chapter:
    where = f"course.toml: chapter {entry.get('number', '?')}"
    missing = {"number", "file", "title", "run_time_s", "goal", "figure"} - set(entry)
    if missing:
        raise CourseError(f"{where} lacks {', '.join(sorted(missing))}")
    path = root / entry["file"]
    if not path.name.startswith(f"{entry['number']}_") or path.suffix != ".ipynb":
        raise CourseError(f"{where}: file {entry['file']} must be NN_topic.ipynb")
    return Chapter(
        number=entry["number"],
        path=path,
        title=entry["title"],
        run_time_s=int(entry["run_time_s"]),
        smoke=dict(entry.get("smoke", {})),
        goal=entry.get("goal", ""),
        figure=entry.get("figure", ""),
        figure_alt=entry.get("figure_alt", ""),
    )


@cache
def manifest(path: Path = MANIFEST) -> dict[str, Any]:
    """course.toml, parsed."""
    with open(path, "rb") as f:
        return tomllib.load(f)


def chapters(path: Path = MANIFEST) -> list[Chapter]:
    """Every chapter, in reading order; raises :class:`CourseError` if the numbers are
    not 01, 02, ... in order."""
    found = [_chapter(entry, path.parent) for entry in manifest(path)["chapter"]]
    numbers = [c.number for c in found]
    expected = [f"{n:02d}" for n in range(1, len(found) + 1)]
    if numbers != expected:
        raise CourseError(f"course.toml: chapters {numbers}, expected {expected}")
    return found


def chapter(number: str) -> Chapter:
    """The chapter numbered ``number`` ("05")."""
    for found in chapters():
        if found.number == number:
            return found
    raise CourseError(f"course.toml has no chapter {number}")


def module_docs(path: Path = MANIFEST) -> dict[str, str]:
    """name -> docstring of every module that ``make export`` writes."""
    return {name: spec["doc"] for name, spec in manifest(path)["module"].items()}


# ---------------------------------------------------------------- notebook cells


def load(path: Path) -> dict[str, Any]:
    """A notebook as plain JSON."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def source(cell: dict[str, Any]) -> str:
    """A cell's source as one string."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def code_cells(nb: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def strip_magics(src: str) -> str:
    """A cell's code with each IPython magic or shell line (``%config``, ``!ls``) as
    ``pass``, so that ``ast`` can parse it."""
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line
        for line in src.splitlines()
    )


def declared_parameters(nb: dict[str, Any], where: str = "notebook") -> dict[str, str]:
    """name -> source of the default value, for every name the one cell tagged
    ``parameters`` assigns."""
    tagged = [c for c in code_cells(nb) if "parameters" in tags(c)]
    if len(tagged) != 1:
        raise CourseError(
            f"{where}: {len(tagged)} cells tagged 'parameters', expected 1"
        )
    code = source(tagged[0])
    found: dict[str, str] = {}
    for node in ast.parse(code).body:
        value = getattr(node, "value", None)
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        for target in targets:
            if isinstance(target, ast.Name):
                found[target.id] = ast.get_source_segment(code, value) if value else ""
    return found
