"""The CNN record: chapter 06's recipe on a larger CNN, trained once per seed.

    .venv/bin/python benchmarks/train_cnn.py --seeds 0 1 2      # the record, 3 seeds
    .venv/bin/python benchmarks/train_cnn.py --ablation         # what each change buys

The record model is ``CNN(widths=(32, 64, 128), convs=2)`` (chapter 06's class, two
3x3 convolutions per block), trained with chapter 06's ``train_cnn`` (AdamW, one-cycle
schedule, label smoothing 0.1, channels_last) on ``AugmentedLoader`` batches (shift by
up to 1 pixel + horizontal flip). On a CPU with native bfloat16 instructions
(AVX512_BF16, AMX or ARM BF16) the forward pass runs under bfloat16 autocast
(``torchprimer.speed.Autocast``, chapter 07); elsewhere in float32 (``--dtype`` to
choose). Each seed prints its training time (including one validation pass per
epoch), validation and test accuracy, and test accuracy with flip test-time
augmentation (TTA); then the mean and the spread (smallest to largest) over the seeds.

``--ablation`` changes one thing at a time on a shorter budget (``--ablation-epochs``)
and reports the mean validation accuracy over the seeds, so that the test split
stays out of every decision.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from torchprimer.engine import evaluate
from torchprimer.fashion_mnist import fashion_mnist_tensors
from torchprimer.loaders import TensorLoader
from torchprimer.models import CNN
from torchprimer.paths import repository_path
from torchprimer.speed import Autocast
from torchprimer.vision import AugmentedLoader, predict_with_flips, train_cnn

RECORD: dict[str, Any] = {"widths": (32, 64, 128), "convs": 2, "num_epochs": 9}


def machine() -> dict[str, Any]:
    """What every figure is printed with: torch, CPU capability, threads, load."""
    flags = torch.cpu.get_capabilities()
    return {
        "torch": torch.__version__,
        "cpu capability": torch.backends.cpu.get_cpu_capability(),
        "native bf16": native_bf16(),
        "amx": bool(flags.get("amx_bf16", False)),
        "threads": torch.get_num_threads(),
        "load average": round(os.getloadavg()[0], 2),
    }


def native_bf16() -> bool:
    """Whether this CPU has bfloat16 arithmetic instructions that oneDNN uses."""
    flags = torch.cpu.get_capabilities()
    return any(flags.get(name, False) for name in ("avx512_bf16", "amx_bf16", "bf16"))


def pick_dtype(name: str) -> torch.dtype | None:
    """``auto``: bfloat16 where the CPU has native bf16, else float32 (None)."""
    if name == "auto":
        return torch.bfloat16 if native_bf16() else None
    return {"float32": None, "bfloat16": torch.bfloat16}[name]


def without_batchnorm(model: nn.Module) -> nn.Module:
    """``model`` with every BatchNorm2d replaced by an identity (in place)."""
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d):
            setattr(model, name, nn.Identity())
        else:
            without_batchnorm(child)
    return model


def run(
    splits: dict[str, Any],
    device: torch.device,
    num_epochs: int,
    seed: int,
    widths: Sequence[int] = (16, 32, 64),
    convs: int = 1,
    batchnorm: bool = True,
    padding: int | None = 1,
    batch_size: int = 256,
    dtype: torch.dtype | None = None,
    **recipe: Any,
) -> dict[str, Any]:
    """Train one CNN with chapter 06's ``train_cnn`` and measure it."""
    torch.manual_seed(seed)
    model: nn.Module = CNN(widths, convs=convs)
    if not batchnorm:
        without_batchnorm(model)
    parameters = sum(p.numel() for p in model.parameters())
    if dtype is not None:
        model = Autocast(model, dtype)
    generator = torch.Generator().manual_seed(seed)
    X, y = splits["train"].tensors
    train_dataloader = AugmentedLoader(X, y, batch_size, padding, generator)
    val_dataloader = TensorLoader(*splits["val"].tensors, batch_size=1000)
    test_dataloader = TensorLoader(*splits["test"].tensors, batch_size=1000)
    start = time.perf_counter()
    history = train_cnn(
        model, train_dataloader, val_dataloader, device, num_epochs, **recipe
    )
    seconds = time.perf_counter() - start
    y_test = splits["test"].tensors[1]
    test = evaluate(model, test_dataloader, nn.CrossEntropyLoss(), device)
    tta = (predict_with_flips(model, test_dataloader, device) == y_test).float()
    return {
        "seed": seed,
        "parameters": parameters,
        "epochs": num_epochs,
        "train s": seconds,
        "s/epoch": seconds / num_epochs,
        "val acc": history[-1]["val_accuracy"],
        "test acc": test["accuracy"],
        "test acc TTA": tta.mean().item(),
    }


def mean_and_spread(rows: list[dict[str, Any]], key: str) -> dict[str, float]:
    values = [row[key] for row in rows]
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}


def record(splits_for, device: torch.device, seeds: Sequence[int], args) -> dict:
    """The record recipe once per seed; each seed has its own validation split."""
    dtype = pick_dtype(args.dtype)
    epochs = args.epochs or RECORD["num_epochs"]
    precision = "bfloat16 autocast" if dtype is not None else "float32"
    print(
        f"\nCNN record: widths {RECORD['widths']}, {RECORD['convs']} convs per block, "
        f"{epochs} epochs, {precision}, seeds {list(seeds)}"
    )
    rows = []
    for seed in seeds:
        load = os.getloadavg()[0]
        row = run(
            splits_for(seed),
            device,
            epochs,
            seed,
            widths=RECORD["widths"],
            convs=RECORD["convs"],
            dtype=dtype,
        )
        row["load before"] = load
        rows.append(row)
        print(
            f"seed {seed}: {row['train s']:.0f} s training ({row['s/epoch']:.1f} "
            f"s/epoch), val {row['val acc']:.4f}, test {row['test acc']:.4f}, "
            f"test TTA {row['test acc TTA']:.4f} (load before {load:.2f})",
            flush=True,
        )
    summary = {
        key: mean_and_spread(rows, key)
        for key in ("train s", "val acc", "test acc", "test acc TTA")
    }
    for key, s in summary.items():
        print(
            f"  {key:>13}: mean {s['mean']:.4f}, min {s['min']:.4f}, max {s['max']:.4f}"
        )
    return {
        "recipe": {**RECORD, "num_epochs": epochs, "precision": precision},
        "parameters": rows[0]["parameters"],
        "seeds": rows,
        "summary": summary,
    }


# one change per row against the first, on a shorter budget; validation accuracy only
ABLATION: dict[str, dict[str, Any]] = {
    "chapter 06 (16-32-64, 1 conv/block)": {},
    "wider: 32-64-128": {"widths": (32, 64, 128)},
    "record: 32-64-128, 2 convs/block": {"widths": (32, 64, 128), "convs": 2},
    "record without augmentation": {
        "widths": (32, 64, 128),
        "convs": 2,
        "padding": None,
    },
}


def ablation(
    splits_for, device: torch.device, seeds: Sequence[int], args
) -> pd.DataFrame:
    """Each row of ``ABLATION`` for every seed; mean and spread of val accuracy."""
    dtype = pick_dtype(args.dtype)
    epochs = args.ablation_epochs
    print(f"\nablation: {epochs} epochs per run, seeds {list(seeds)}, val accuracy")
    rows = {}
    for name, change in ABLATION.items():
        runs = [
            run(splits_for(seed), device, epochs, seed, dtype=dtype, **change)
            for seed in seeds
        ]
        acc = [r["val acc"] for r in runs]
        rows[name] = {
            "parameters": runs[0]["parameters"],
            "val acc mean": statistics.fmean(acc),
            "min": min(acc),
            "max": max(acc),
            "s/epoch": statistics.fmean(r["s/epoch"] for r in runs),
        }
        print(f"{name}: {rows[name]}", flush=True)
    table = pd.DataFrame(rows).T.astype({"parameters": int})
    table.insert(2, "gain", table["val acc mean"] - table["val acc mean"].iloc[0])
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round({"s/epoch": 1}).round(4).to_string())
    return table


def read_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(repository_path("data")))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=None, help="record epochs")
    parser.add_argument(
        "--dtype", choices=["auto", "float32", "bfloat16"], default="auto"
    )
    parser.add_argument("--ablation", action="store_true", help="the ablation only")
    parser.add_argument("--ablation-epochs", type=int, default=3)
    parser.add_argument("--train-subset", type=int, default=None, help="quick tries")
    return parser.parse_args(argv)


def splits_loader(args: argparse.Namespace):
    """A function seed -> splits (cached): the validation split depends on the seed."""
    cache: dict[int, dict[str, Any]] = {}

    def splits_for(seed: int) -> dict[str, Any]:
        if seed not in cache:
            splits = fashion_mnist_tensors(args.data_root, seed)
            if args.train_subset is not None:
                subset = splits["train"][: args.train_subset]
                splits["train"] = torch.utils.data.TensorDataset(*subset)
            cache[seed] = splits
        return cache[seed]

    return splits_for


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = read_arguments(argv)
    device = torch.device(args.device)
    print(", ".join(f"{k}: {v}" for k, v in machine().items()))
    splits_for = splits_loader(args)
    if args.ablation:
        table = ablation(splits_for, device, args.seeds, args)
        return {"ablation": table.reset_index(names="change").to_dict("records")}
    return {"record": record(splits_for, device, args.seeds, args)}


if __name__ == "__main__":
    main()
