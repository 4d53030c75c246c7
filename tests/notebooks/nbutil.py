"""Small helpers shared by the notebook tests."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK_DIR = ROOT / "notebooks"
NAME_RE = re.compile(r"^\d\d_[a-z][a-z0-9_]*\.ipynb$")

# The one list of chapter titles: notebook headings read "# NN · Title".
CHAPTERS: dict[str, str] = {
    "01": "Tensors",
    "02": "Datasets and transforms",
    "03": "Building models",
    "04": "Autograd",
    "05": "Training",
    "06": "Convolutional networks",
    "07": "Faster training",
    "08": "Checkpoints and resuming",
    "09": "Distributed training with torchrun",
}


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOK_DIR.glob("*.ipynb"))


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def strip_magics(src: str) -> str:
    """A cell's code with each IPython magic or shell line (``%config``, ``!ls``) as
    ``pass``, so that ``ast`` can parse it."""
    return "\n".join(
        "pass" if line.lstrip().startswith(("%", "!")) else line
        for line in src.splitlines()
    )


def parameters_cell(nb: dict[str, Any]) -> dict[str, Any]:
    """The one code cell tagged ``parameters`` (the lint checks there is exactly
    one)."""
    return next(
        c for c in nb["cells"] if c["cell_type"] == "code" and "parameters" in tags(c)
    )


def declared_parameters(nb: dict[str, Any]) -> set[str]:
    """The names the parameters cell assigns."""
    names: set[str] = set()
    for node in ast.parse(source(parameters_cell(nb))).body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [getattr(node, "target", None)]
        )
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def metrics_from(nb: dict[str, Any]) -> dict[str, Any]:
    """The JSON metrics a notebook exports, merged from its cells tagged ``metrics``.

    Deterministic results and varying ones (wall time) come from separate cells, so that
    only the latter need ``nbval-ignore-output``.
    """
    merged: dict[str, Any] = {}
    for cell in nb["cells"]:
        if "metrics" in tags(cell):
            for out in cell.get("outputs", []):
                data = out.get("data", {})
                if "application/json" in data:
                    merged.update(data["application/json"])
    assert merged, "no cell tagged 'metrics' with an application/json output"
    return merged
