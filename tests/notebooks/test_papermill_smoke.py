"""Run every chapter with papermill and small parameters; it must finish without error.

Each chapter runs once per device this machine has (cpu always; cuda and mps where
present), with its ``smoke`` parameters from course.toml, through the same runner as
``make book`` (``tools.book.execute``), and writes any files it saves under
``tmp_path``. Chapters in METRICS_CHECKS export metrics, which are checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tools.book import execute
from tools.course import ROOT, chapters, declared_parameters, load, tags
from torchprimer.devices import available_devices

pytestmark = pytest.mark.smoke

CHAPTERS = chapters()
DEVICES = available_devices()  # the root conftest.py names them in the summary


def metrics_from(nb: dict[str, Any]) -> dict[str, Any]:
    """The JSON metrics a notebook exports, merged from its cells tagged ``metrics``
    (deterministic results and varying ones, such as wall time, come from separate
    cells, so that only the latter need ``nbval-ignore-output``)."""
    merged: dict[str, Any] = {}
    for cell in nb["cells"]:
        if "metrics" in tags(cell):
            for out in cell.get("outputs", []):
                merged.update(out.get("data", {}).get("application/json", {}))
    assert merged, "no cell tagged 'metrics' with an application/json output"
    return merged


def check_training_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> None:
    assert metrics["device"] == params["DEVICE"]
    assert metrics["epochs"] == params["NUM_EPOCHS"]
    assert metrics["train_images"] == params["TRAIN_SUBSET"]
    # one epoch on 2,000 images still learns far beyond chance (0.10)
    assert 0.5 < metrics["test_accuracy"] <= 1.0, metrics


def check_ddp_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> None:
    assert metrics["device"] == params["DEVICE"]
    assert metrics["epochs"] == params["NUM_EPOCHS"]
    assert metrics["train_images"] == params["TRAIN_SUBSET"]
    # N processes with batch B end with the weights of 1 process with batch N*B
    assert metrics["max_weight_difference"] < 1e-5, metrics
    # the killed process was restarted, and the run ended as if nothing had happened
    assert metrics["restarted_attempts"] == 2, metrics
    assert metrics["restarted_gap"] < 1e-5, metrics
    assert 0.5 < metrics["val_accuracy"] <= 1.0, metrics


METRICS_CHECKS: dict[str, Callable[[dict[str, Any], dict[str, Any]], None]] = {
    "05": check_training_metrics,
    "06": check_training_metrics,
    "09": check_ddp_metrics,
}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.path.name for c in CHAPTERS])
def test_notebook_runs_with_small_parameters(chapter, device, tmp_path):
    declared = declared_parameters(load(chapter.path))
    params = {"DEVICE": device, **chapter.smoke}
    if "MODELS_DIR" in declared:  # never overwrite the repository's models/
        params["MODELS_DIR"] = str(tmp_path / "models")
    unknown = set(params) - set(declared)
    assert not unknown, (
        f"{chapter.path.name}: smoke parameters {unknown} in course.toml are not in "
        "its parameters cell"
    )
    out = execute(chapter.path, tmp_path, params, cwd=ROOT / "notebooks")
    if chapter.number in METRICS_CHECKS:
        METRICS_CHECKS[chapter.number](metrics_from(load(out)), params)
