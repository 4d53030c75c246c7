"""The exercise notebooks' format: title, one check cell per exercise, short cells,
no stored outputs, and the chapter's checks imported from torchprimer.exercises."""

from __future__ import annotations

import ast
import json
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notebooks"))
from nbutil import CHAPTERS  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "notebooks" / "exercises"
NOTEBOOKS = sorted(FOLDER.glob("[0-9][0-9]_*_solutions.ipynb")) + sorted(
    FOLDER.glob("[0-9][0-9]_*_exercises.ipynb")
)
CHECK_CALL = re.compile(r'^check\("([a-z0-9_]+)"\)$')
MAX_LINES = 30


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_exercise_notebook_format(path):
    number = path.name[:2]
    nb_cells = cells(path)
    title = f"# {number} · {CHAPTERS[number]}: exercises"
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
