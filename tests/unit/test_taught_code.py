"""Teach first, then reuse: the code a chapter shows is the package's code.

- A function or class that a chapter defines under the name of one in ``torchprimer``
  is, character for character, the package's definition.
- Every definition whose docstring says "Taught in notebook NN" is shown in full in
  chapter NN, except in the modules listed in SHOWN_IN_PARTS, whose chapters show
  excerpts (checked by their own tests).
"""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "notebooks"))
from nbutil import strip_magics  # noqa: E402

PACKAGE = ROOT / "src" / "torchprimer"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TAUGHT = re.compile(r"Taught in notebook (\d\d)")
# datasets.py: chapter 02 writes a short Dataset of its own and shows the robust one in
# parts (tests/unit/test_datasets.py checks each excerpt against the module).
SHOWN_IN_PARTS = {"datasets.py"}


def definitions(source: str) -> dict[str, ast.AST]:
    tree = ast.parse(source)
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def package() -> list[tuple[str, Path, str, str | None]]:
    """(name, module file, source of the definition, the chapter that teaches it) for
    every top-level definition; the same name may live in several modules."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name, node in definitions(text).items():
            taught = TAUGHT.search(ast.get_docstring(node) or "")
            segment = ast.get_source_segment(text, node)
            found.append((name, path, segment, taught.group(1) if taught else None))
    return found


def shown(chapter: Path) -> dict[str, str]:
    """name -> source of every top-level function or class the chapter defines."""
    found = {}
    for cell in json.loads(chapter.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] == "code":
            src = strip_magics("".join(cell["source"]))
            for name, node in definitions(src).items():
                found[name] = ast.get_source_segment(src, node)
    return found


PACKAGE_DEFS = package()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.name for p in CHAPTERS])
def test_what_a_chapter_shows_is_the_package_code(chapter):
    """A definition that the package teaches in this chapter must be identical; one
    that only shares its name with package code must equal one of those definitions."""
    number = chapter.name[:2]
    for name, source in shown(chapter).items():
        same_name = [d for d in PACKAGE_DEFS if d[0] == name]
        taught_here = [d for d in same_name if d[3] == number]
        candidates = taught_here or same_name
        if not candidates:
            continue
        where = ", ".join(str(d[1].relative_to(ROOT)) for d in candidates)
        assert any(source == d[2] for d in candidates), (
            f"{chapter.name} and {where} disagree on {name}"
        )


def test_every_taught_definition_is_shown_in_its_chapter():
    by_number = {p.name[:2]: p for p in CHAPTERS}
    missing = []
    for name, path, _, number in PACKAGE_DEFS:
        if number is None or path.name in SHOWN_IN_PARTS:
            continue
        chapter = by_number.get(number)
        if chapter is None or name not in shown(chapter):
            missing.append(f"{path.relative_to(ROOT)}:{name} (notebook {number})")
    assert not missing, "taught but not shown in full: " + ", ".join(missing)
