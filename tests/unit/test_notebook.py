"""torchprimer.notebook: every bad parameter fails where it is set, naming itself."""

from __future__ import annotations

import math

import pytest

from torchprimer.notebook import RULES, ParameterError, check_parameters, export_metrics


def test_good_values_pass():
    check_parameters(
        DEVICE="auto",
        SEED=0,
        NUM_EPOCHS=15,
        BATCH_SIZE=256,
        LR=4e-3,
        TRAIN_SUBSET=None,
        NUM_WORKERS=0,
        DATA_ROOT="../data",
    )
    check_parameters(TRAIN_SUBSET=50_000, DEVICE="cuda:1", LR=1)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        # the failures bad-input testing found, each silent or obscure before
        ("TRAIN_SUBSET", -5, "TRAIN_SUBSET=-5"),  # trained on 49,995 images
        ("TRAIN_SUBSET", 0, "TRAIN_SUBSET=0"),
        ("TRAIN_SUBSET", 60_000, "TRAIN_SUBSET=60000"),  # more than the split has
        ("NUM_EPOCHS", 0, "NUM_EPOCHS=0"),  # "Expected positive integer total_steps"
        ("BATCH_SIZE", 0, "BATCH_SIZE=0"),  # ZeroDivisionError
        ("SEED", "abc", "SEED='abc'"),  # invalid literal for int()
        ("NUM_EPOCHS", "1", "papermill's -p, not -r"),  # a 32-digit step count
        ("NUM_EPOCHS", 2.5, "not an int"),
        ("NUM_EPOCHS", True, "bool"),
        ("LR", 0, "LR=0"),
        ("LR", math.inf, "LR=inf"),
        ("DEVICE", "cpu extra", "DEVICE='cpu extra'"),
        ("DEVICE", "gpu", "DEVICE='gpu'"),
        ("DEVICE", "mps:x", "DEVICE='mps:x'"),
        ("DEVICE", 0, "not a str"),
        ("DATA_ROOT", "", "DATA_ROOT=''"),
    ],
)
def test_bad_values_name_the_parameter_and_what_is_allowed(name, value, says):
    with pytest.raises(ParameterError) as info:
        check_parameters(**{name: value})
    message = str(info.value)
    assert says in message
    assert RULES[name].allowed in message


def test_every_problem_is_reported_at_once():
    with pytest.raises(ParameterError) as info:
        check_parameters(NUM_EPOCHS=0, BATCH_SIZE=-1)
    assert "NUM_EPOCHS=0" in str(info.value) and "BATCH_SIZE=-1" in str(info.value)


def test_an_unknown_name_is_an_error_listing_the_known_ones():
    with pytest.raises(ParameterError, match="EPOCHS is not a parameter.*NUM_EPOCHS"):
        check_parameters(EPOCHS=1)


def test_export_metrics_displays_json(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(
        IPython.display, "display", lambda obj, raw=False: shown.append((obj, raw))
    )
    metrics = {"test_accuracy": 0.9, "epochs": 2, "device": "cpu"}
    assert export_metrics(metrics) == metrics
    ((obj, raw),) = shown
    assert raw and obj["application/json"] == metrics
    assert '"epochs": 2' in obj["text/plain"]
