"""``make benchmark``: every measured figure of the README in one run, one summary.

Runs, in one process and in this order: the MLP (``train_mlp.py``: the classic loop
against notebook 05, then chapter 07's MLP speed-up table and its roofline ratio), the
CNN speed-up table (``speedups.cnn_speedups``, chapter 06's CNN), and the CNN record
(``train_cnn.py``, 3 seeds). Prints a summary table against the goals at the end and
writes every figure, with the machine it came from, to ``benchmarks/results.json``.
Run it alone on an idle machine: other work on the CPU changes every timing.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts beside this one

import train_cnn  # noqa: E402
import train_mlp  # noqa: E402
from speedups import cnn_speedups  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results.json"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def summary(results: dict[str, Any]) -> pd.DataFrame:
    """One row per goal: what was measured, the goal, and whether it is met."""
    rec = results["cnn record"]["summary"]
    seeds = len(results["cnn record"]["seeds"])
    cnn, mlp = results["cnn speed-ups"], results["mlp"]["speed-ups"]
    rows = [
        (
            f"CNN record, test accuracy, mean of {seeds} seeds (min-max)",
            f"{rec['test acc']['mean']:.4f} ({rec['test acc']['min']:.4f}-"
            f"{rec['test acc']['max']:.4f})",
            ">= 0.935",
            rec["test acc"]["mean"] >= 0.935,
        ),
        (
            "CNN record, with flip TTA (reported apart)",
            f"{rec['test acc TTA']['mean']:.4f} ({rec['test acc TTA']['min']:.4f}-"
            f"{rec['test acc TTA']['max']:.4f})",
            "",
            None,
        ),
        (
            "CNN record, training seconds per seed (longest)",
            f"{rec['train s']['mean']:.0f} ({rec['train s']['max']:.0f})",
            "<= 300",
            rec["train s"]["max"] <= 300,
        ),
        (
            "CNN per epoch, fastest at equal accuracy vs eager float32",
            f"{cnn['speed-up']:.2f}x ({cnn['fastest at equal accuracy']})",
            ">= 2x",
            cnn["speed-up"] >= 2,
        ),
        (
            "MLP fastest loop / roofline estimate",
            f"{mlp['fastest / bound']:.2f}x ({mlp['fastest']})",
            "<= 3x",
            mlp["fastest / bound"] <= 3,
        ),
        (
            "MLP classic loop / notebook 05, per epoch",
            f"{results['mlp']['classic / notebook 05']:.1f}x",
            "",
            None,
        ),
    ]
    table = pd.DataFrame(rows, columns=["figure", "measured", "goal", "met"])
    table["met"] = table["met"].map({True: "yes", False: "NO", None: ""})
    return table.set_index("figure")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cnn-speed-epochs", type=int, default=3)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--train-subset", type=int, default=None, help="quick tries")
    parser.add_argument("--record-epochs", type=int, default=None, help="quick tries")
    parser.add_argument("--mlp-epochs", type=int, default=10)
    parser.add_argument("--classic-epochs", type=int, default=5)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_name(),
        "machine": train_cnn.machine(),
    }
    print(f"{results['date']}, {results['cpu']}")
    print(", ".join(f"{k}: {v}" for k, v in results["machine"].items()))
    subset = (
        [] if args.train_subset is None else ["--train-subset", str(args.train_subset)]
    )
    seeds = [str(s) for s in args.seeds]
    mlp_epochs = ["--epochs", str(args.mlp_epochs)]
    mlp_epochs += ["--classic-epochs", str(args.classic_epochs)]
    results["mlp"] = train_mlp.main(["--seeds", *seeds, *subset, *mlp_epochs])
    cnn_args = train_cnn.read_arguments(["--seeds", *seeds, *subset])
    splits_for = train_cnn.splits_loader(cnn_args)
    print(f"\nCNN speed-ups, load average {os.getloadavg()[0]:.2f}")
    results["cnn speed-ups"] = cnn_speedups(
        splits_for(args.seeds[0]), args.cnn_speed_epochs, args.seeds
    )
    epochs = [] if args.record_epochs is None else ["--epochs", str(args.record_epochs)]
    results["cnn record"] = train_cnn.main(["--seeds", *seeds, *subset, *epochs])[
        "record"
    ]
    results["minutes"] = (time.perf_counter() - start) / 60
    results["load average at the end"] = os.getloadavg()[0]
    table = summary(results)
    results["summary"] = table.reset_index().to_dict("records")
    print(
        f"\nSummary ({results['date']}, {results['cpu']}, torch {torch.__version__}, "
    )
    machine = results["machine"]
    print(
        f"CPU capability {machine['cpu capability']}, native bf16 "
        f"{machine['native bf16']}, AMX {machine['amx']}, {machine['threads']} "
        f"threads; {results['minutes']:.1f} min; load average at the end "
        f"{results['load average at the end']:.2f})\n"
    )
    with pd.option_context("display.width", 200, "display.max_colwidth", 80):
        print(table.to_string())
    args.output.write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(f"\nevery figure: {args.output}")
    return results


if __name__ == "__main__":
    main()
