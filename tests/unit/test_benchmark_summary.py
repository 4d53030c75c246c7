"""benchmarks/run_all.py: the summary table judges each figure against its goal."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_all():
    """benchmarks/run_all.py as a module (a script; it finds the scripts beside it)."""
    spec = importlib.util.spec_from_file_location(
        "run_all_benchmark", ROOT / "benchmarks" / "run_all.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def results(test_mean: float, longest_s: float, speed_up: float, ratio: float):
    spread = {"mean": test_mean, "min": test_mean - 0.001, "max": test_mean + 0.001}
    seconds = {"mean": longest_s - 5, "min": longest_s - 10, "max": longest_s}
    return {
        "cnn record": {
            "seeds": [{}, {}, {}],
            "summary": {
                "test acc": spread,
                "test acc TTA": spread,
                "train s": seconds,
            },
        },
        "cnn speed-ups": {"speed-up": speed_up, "fastest at equal accuracy": "bf16"},
        "mlp": {
            "speed-ups": {"fastest / bound": ratio, "fastest": "fused"},
            "classic / notebook 05": 12.0,
        },
    }


def test_every_goal_met():
    table = run_all().summary(results(0.9401, 290, 2.1, 2.5))
    assert list(table["met"]) == ["yes", "", "yes", "yes", "yes", ""]
    assert "0.9401 (0.9391-0.9411)" in table["measured"].iloc[0]
    assert "3 seeds" in table.index[0]


def test_each_missed_goal_says_no():
    table = run_all().summary(results(0.9349, 301, 1.9, 3.1))
    assert list(table["met"]) == ["NO", "", "NO", "NO", "NO", ""]
