"""Run every notebook with papermill and small parameters; it must finish without error.

Each notebook runs once per device this machine has (cpu always; cuda and mps where
present), with its entry in SMOKE_PARAMETERS (every notebook needs one, so that a new
notebook cannot silently run at full size), and writes any files it saves under
``tmp_path``. Notebooks in METRICS_CHECKS must export metrics, which are
checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import papermill as pm
import pytest
from nbutil import NOTEBOOK_DIR, declared_parameters, load, metrics_from, notebook_paths

from torchprimer.devices import available_devices

pytestmark = pytest.mark.smoke

NOTEBOOKS = notebook_paths()
DEVICES = available_devices()  # the root conftest.py names them in the summary

# Small, fast parameters per notebook (by its NN prefix).
SMOKE_PARAMETERS: dict[str, dict[str, Any]] = {
    "01": {"SEED": 1},
    "02": {"SEED": 1, "NUM_WORKERS": 0, "IMAGE_SIZE": 64},
    "03": {"SEED": 1},
    "04": {"SEED": 1},
    "05": {"SEED": 1, "NUM_EPOCHS": 1, "TRAIN_SUBSET": 2000, "BATCH_SIZE": 64},
    "06": {"SEED": 1, "NUM_EPOCHS": 1, "TRAIN_SUBSET": 2000, "BATCH_SIZE": 128},
    "07": {
        "SEED": 1,
        "TRAIN_SUBSET": 1000,
        "BATCH_SIZE": 128,
        "NUM_EPOCHS": 1,
        "NUM_WORKERS": 0,
        "NUM_STEPS": 2,
    },
    "08": {
        "SEED": 1,
        "TRAIN_SUBSET": 2000,
        "BATCH_SIZE": 128,
        "NUM_EPOCHS": 2,
        "PATIENCE": 1,
    },
    # 2 processes x 50 images, 10 steps per epoch; one process is killed at step 15
    "09": {
        "SEED": 1,
        "TRAIN_SUBSET": 1000,
        "BATCH_SIZE": 50,
        "NUM_EPOCHS": 2,
        "FAIL_AT_STEP": 15,
    },
}


def check_training_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> None:
    assert metrics["device"] == params["DEVICE"]
    assert metrics["epochs"] == params["NUM_EPOCHS"]
    assert metrics["train_images"] == params["TRAIN_SUBSET"]
    # one epoch on 2,000 images still learns far beyond chance (0.10)
    assert 0.5 < metrics["test_accuracy"] <= 1.0, metrics
    assert metrics["train_seconds"] > 0


def check_ddp_metrics(metrics: dict[str, Any], params: dict[str, Any]) -> None:
    assert metrics["device"] == params["DEVICE"]
    assert metrics["epochs"] == params["NUM_EPOCHS"]
    assert metrics["train_images"] == params["TRAIN_SUBSET"]
    assert metrics["processes"] >= 1
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
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_with_small_parameters(path, device, tmp_path):
    prefix = path.name[:2]
    assert prefix in SMOKE_PARAMETERS, (
        f"{path.name}: add its small parameters to SMOKE_PARAMETERS"
    )
    nb = load(path)
    declared = declared_parameters(nb)
    params = {"DEVICE": device, **SMOKE_PARAMETERS[prefix]}
    if "MODELS_DIR" in declared:
        params["MODELS_DIR"] = str(
            tmp_path / "models"
        )  # never overwrite the repository's models/
    unknown = set(params) - declared
    assert not unknown, (
        f"{path.name}: smoke parameters {unknown} are not in its parameters cell"
    )
    out = tmp_path / path.name
    pm.execute_notebook(
        str(path),
        str(out),
        parameters=params,
        kernel_name="python3",
        cwd=str(NOTEBOOK_DIR),
        progress_bar=False,
        log_output=False,
    )
    if prefix in METRICS_CHECKS:
        METRICS_CHECKS[prefix](metrics_from(load(out)), params)
