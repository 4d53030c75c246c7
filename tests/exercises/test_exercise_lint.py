"""The exercise notebooks' format: title, one check cell per exercise, short cells,
no stored outputs, and the chapter's checks imported from torchprimer.exercises."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tools.course import chapter, chapters, load, source

NOTEBOOKS = [c.solutions for c in chapters()] + [c.exercises for c in chapters()]
CHECK_CALL = re.compile(r'^check\("([a-z0-9_]+)"\)$')
MAX_LINES = 30


def cells(path: Path) -> list[dict]:
    return load(path)["cells"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_exercise_notebook_format(path):
    number = path.name[:2]
    nb_cells = cells(path)
    title = f"{chapter(number).heading}: exercises"
    assert source(nb_cells[0]).splitlines()[:1] == [title], (
        f"{path.name}: the first line must be {title!r}"
    )
    code = [source(c) for c in nb_cells if c["cell_type"] == "code"]
    imports = f"from torchprimer.exercises.ch{number} import check"
    assert any(imports in src for src in code), f"{path.name}: needs `{imports}`"
    checks = [CHECK_CALL.match(src.strip()) for src in code]
    names = [m.group(1) for m in checks if m]
    assert 4 <= len(names) <= 6, f"{path.name}: {len(names)} exercises, want 4 to 6"
    assert len(set(names)) == len(names), f"{path.name}: a check runs twice"
    headings = [
        c
        for c in nb_cells
        if c["cell_type"] == "markdown" and "## Exercise" in source(c)
    ]
    assert len(headings) == len(names), f"{path.name}: one '## Exercise' per check"
    for i, cell in enumerate(nb_cells):
        if cell["cell_type"] != "code":
            continue
        lines = source(cell).splitlines()
        assert len(lines) <= MAX_LINES, f"{path.name}: cell {i + 1} is over 30 lines"
        assert all(len(line) <= 88 for line in lines), f"{path.name}: cell {i + 1}"
        assert not cell.get("outputs"), f"{path.name}: cell {i + 1} stores outputs"
        ast.parse(source(cell))  # valid Python, stubs included
