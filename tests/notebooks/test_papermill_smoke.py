"""Run every notebook with papermill and small parameters; it must finish without error.

Each notebook gets DEVICE=cpu plus the overrides in SMOKE_PARAMETERS. Where a notebook
exports metrics (a cell tagged ``metrics``), the test checks them too.
"""

from __future__ import annotations

import ast
import os

import papermill as pm
import pytest

from nbutil import NOTEBOOK_DIR, load, metrics_from, notebook_paths, source, tags

pytestmark = pytest.mark.smoke

NOTEBOOKS = notebook_paths()

# Small, fast parameters per notebook (by its NN prefix).
SMOKE_PARAMETERS: dict[str, dict] = {
    "01": {"SEED": 1},
    "02": {"SEED": 1, "NUM_WORKERS": 0, "IMAGE_SIZE": 64},
    "03": {"SEED": 1},
    "04": {"SEED": 1},
    "05": {"SEED": 1, "NUM_EPOCHS": 1, "TRAIN_SUBSET": 2000, "BATCH_SIZE": 64},
}


def declared_parameters(nb: dict) -> set[str]:
    cell = next(c for c in nb["cells"] if "parameters" in tags(c))
    tree = ast.parse(source(cell))
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def check_metrics(prefix: str, metrics: dict, params: dict) -> None:
    if prefix == "05":
        assert metrics["device"] == "cpu"
        assert metrics["epochs"] == params["NUM_EPOCHS"]
        assert 0.0 <= metrics["test_accuracy"] <= 1.0
        # one epoch on 2,000 images still learns far beyond chance (0.10)
        assert metrics["test_accuracy"] > 0.5, metrics
        assert metrics["train_seconds"] > 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_small_parameters(path, tmp_path):
    prefix = path.name[:2]
    nb = load(path)
    params = {"DEVICE": "cpu", **SMOKE_PARAMETERS.get(prefix, {})}
    unknown = set(params) - declared_parameters(nb)
    assert not unknown, f"{path.name}: smoke parameters {unknown} are not in its parameters cell"
    out = tmp_path / path.name
    pm.execute_notebook(
        str(path), str(out), parameters=params, kernel_name="python3",
        cwd=str(NOTEBOOK_DIR), progress_bar=False, log_output=False,
    )
    executed = load(out)
    if any("metrics" in tags(c) for c in executed["cells"]):
        check_metrics(prefix, metrics_from(executed), params)
