"""What every notebook does around its lessons: check parameters, record results.

Hand-written, not taught: every chapter calls it.

- :func:`check_parameters` runs in the cell after every notebook's ``parameters`` cell,
  so that a bad value from papermill (``-p NUM_EPOCHS 0``) or a hand edit fails at once,
  with a message naming the parameter, the value and what is allowed, instead of forty
  cells later with an obscure error. Every parameter name used by any notebook has one
  rule here, so the same name means the same thing in every chapter.
- :func:`export_metrics` shows a dict of results as JSON, which tools read back from the
  executed notebook.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torchprimer.devices import parse_device

__all__ = ["ParameterError", "RULES", "check_parameters", "export_metrics"]

# Path parameters are relative to the repository (torchprimer.paths), or absolute.
_WHERE = "relative to the repository, or absolute"
# Training images left after notebook 05's validation split (60,000 - 10,000).
NUM_TRAIN_IMAGES = 50_000


class ParameterError(ValueError):
    """A notebook parameter has a value that cannot work."""


@dataclass(frozen=True)
class Rule:
    """What one parameter accepts: a check returning a reason (or None) and a hint."""

    check: Callable[[Any], str | None]
    allowed: str


def _not_a(value: Any, wanted: str) -> str:
    reason = f"it is a {type(value).__name__}, not {wanted}"
    if isinstance(value, str):
        reason += "; give numbers with papermill's -p, not -r"
    return reason


def _integer(minimum: int, maximum: int | None = None) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return _not_a(value, "an int")
        if value < minimum or (maximum is not None and value > maximum):
            return "it is out of range"
        return None

    return check


def _positive_number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _not_a(value, "a number")
    if not math.isfinite(value) or value <= 0:
        return "it is not a positive, finite number"
    return None


def _fraction(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _not_a(value, "a number")
    if not 0 <= value < 1:
        return "it is out of range"
    return None


def _optional(check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    return lambda value: None if value is None else check(value)


def _path(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a str"
    if not value.strip():
        return "it is empty"
    if "\0" in value:
        return "it contains a NUL character"
    return None


def _device(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a str"
    try:
        parse_device(value)
    except ValueError:
        return "it is not a device name"
    return None


RULES: dict[str, Rule] = {
    "DEVICE": Rule(_device, "'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"),
    "SEED": Rule(_integer(0, 2**63 - 1), "an int from 0 to 2**63 - 1"),
    "NUM_EPOCHS": Rule(_integer(1, 1000), "an int from 1 to 1000"),
    "BATCH_SIZE": Rule(_integer(1, NUM_TRAIN_IMAGES), "an int from 1 to 50000"),
    "NUM_WORKERS": Rule(
        _integer(0, 64), "an int from 0 to 64 (0: load in this process)"
    ),
    "NUM_PROCESSES": Rule(_integer(1, 64), "an int from 1 to 64"),
    "NUM_STEPS": Rule(
        _integer(1, 10_000), "an int from 1 to 10000 (timed steps per measurement)"
    ),
    "IMAGE_SIZE": Rule(_integer(8, 4096), "an int from 8 to 4096 (pixels)"),
    "LR": Rule(_positive_number, "a positive number such as 0.004"),
    "LABEL_SMOOTHING": Rule(
        _fraction, "a number from 0 (none) up to, not including, 1"
    ),
    "TRAIN_SUBSET": Rule(
        _optional(_integer(1, NUM_TRAIN_IMAGES)),
        f"None (all {NUM_TRAIN_IMAGES} training images) or an int from 1 to "
        f"{NUM_TRAIN_IMAGES}",
    ),
    "DATA_ROOT": Rule(_path, f"a folder path as a str, such as 'data' ({_WHERE})"),
    "MODELS_DIR": Rule(_path, f"a folder path as a str, such as 'models' ({_WHERE})"),
    "LABELS_FILE": Rule(_path, f"a file path as a str ({_WHERE})"),
    "PATIENCE": Rule(
        _integer(1, 1000), "an int from 1 to 1000 (epochs without a new best)"
    ),
    "FAIL_AT_STEP": Rule(
        _integer(1, 10**9),
        "an int of 1 or more (the training step at which one process is killed)",
    ),
}


def check_parameters(**values: Any) -> None:
    """Raise :class:`ParameterError` unless every value passed is allowed for its name.

    Call it as ``check_parameters(SEED=SEED, NUM_EPOCHS=NUM_EPOCHS, ...)``. A value
    passed as text where a number is expected (papermill's ``-r``, or a quoted ``-p``
    value) is an error, not silently converted.
    """
    problems = []
    for name, value in values.items():
        rule = RULES.get(name)
        if rule is None:
            problems.append(
                f"{name} is not a parameter torchprimer knows: {sorted(RULES)}"
            )
            continue
        reason = rule.check(value)
        if reason is not None:
            problems.append(
                f"{name}={value!r} is not allowed ({reason}): use {rule.allowed}"
            )
    if problems:
        raise ParameterError("bad notebook parameter:\n  " + "\n  ".join(problems))


def export_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Show ``metrics`` as an ``application/json`` output (with a text twin) that tools
    read back from the executed notebook. Returns the metrics unchanged."""
    from IPython.display import display

    display(
        {"application/json": metrics, "text/plain": json.dumps(metrics, indent=1)},
        raw=True,
    )
    return metrics
