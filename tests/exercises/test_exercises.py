"""Exercises, both directions, for every chapter.

- Every chapter has a solutions notebook, and its exercise notebook is generated from it
  and up to date (`make exercises`).
- The solutions run top to bottom without an error, and every check says "correct".
- The exercise notebook, as the learner receives it, runs top to bottom without an
  error (Run All never stops), and every check says "not yet" with a learner-facing
  message: so a check that cannot fail is caught.
- Both run exactly the checks registered for the chapter, each once, in order.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tools import exercises as build
from tools.course import chapters

SOLUTIONS = [c.solutions for c in chapters()]
IDS = [p.name[:2] for p in SOLUTIONS]


def run(path: Path) -> list:
    """Execute the notebook in a fresh kernel (in memory); an error fails the test."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    return nb.cells


def results(cells) -> list[dict]:
    found = []
    for cell in cells:
        for out in cell.get("outputs", []):
            meta = out.get("metadata", {}).get("torchprimer")
            if meta:
                found.append({**meta, "text": "".join(out["data"]["text/plain"])})
    return found


def registered(chapter: str) -> list[str]:
    return importlib.import_module(f"torchprimer.exercises.ch{chapter}").registry.names


def all_output_text(cells) -> str:
    parts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def test_every_chapter_has_exercises():
    missing = [p.name for p in SOLUTIONS if not p.is_file()]
    assert not missing, f"chapters without their solutions notebook: {missing}"
    found = sorted(p.name for p in build.EXERCISES.glob("*_solutions.ipynb"))
    assert found == sorted(p.name for p in SOLUTIONS), "not in course.toml"


def test_exercise_notebooks_are_generated_from_the_solutions(capsys):
    assert build.main(["--check"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("solutions", SOLUTIONS, ids=IDS)
def test_the_solutions_pass_every_check(solutions):
    found = results(run(solutions))
    assert [r["check"] for r in found] == registered(solutions.name[:2])
    failed = [r["text"] for r in found if not r["passed"]]
    assert not failed, "solutions that fail their check:\n" + "\n".join(failed)


@pytest.mark.parametrize("solutions", SOLUTIONS, ids=IDS)
def test_the_exercises_as_given_fail_every_check_gently(solutions):
    exercises = solutions.with_name(solutions.name.replace("_solutions", "_exercises"))
    cells = run(exercises)  # a crash (an error output) raises CellExecutionError
    found = results(cells)
    assert [r["check"] for r in found] == registered(solutions.name[:2])
    passing = [r["check"] for r in found if r["passed"]]
    assert not passing, f"checks that pass before any work (cannot fail?): {passing}"
    for r in found:
        assert r["text"].startswith(f"❌ {r['check']}: not yet. "), r["text"]
    text = all_output_text(cells)
    assert "Traceback" not in text
    assert "the check itself failed" not in text
