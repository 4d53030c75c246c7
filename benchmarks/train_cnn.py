"""Train chapter 06's CNN with chapter 06's recipe and report what it reaches.

    .venv/bin/python benchmarks/train_cnn.py                 # the headline run
    .venv/bin/python benchmarks/train_cnn.py --ablation      # plus the ablation table

Prints the number of parameters, seconds per epoch, total training time, and the test
accuracy with and without flip test-time augmentation (TTA). The recipe is
``torchprimer.vision``'s ``AugmentedLoader`` and ``train_cnn``, the same code notebook
06 trains with, so the two cannot drift apart. ``--ablation`` then changes one thing at
a time (width, depth, BatchNorm, augmentation, schedule) and prints a pandas table; its
runs are shorter (``--ablation-epochs``, optionally ``--ablation-subset`` training
images) so that the whole table fits in a coffee break on 2 cores.
Timings depend on the load of the machine: the load average is printed with them.
"""

from __future__ import annotations

import argparse
import os
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
from torchprimer.vision import AugmentedLoader, predict_with_flips, train_cnn


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
    batchnorm: bool = True,
    padding: int | None = 1,
    batch_size: int = 256,
    **recipe: Any,
) -> dict[str, Any]:
    """Train one CNN as notebook 06 does and measure it on the test split."""
    torch.manual_seed(seed)
    model = CNN(widths)
    if not batchnorm:
        without_batchnorm(model)
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
        "parameters": sum(p.numel() for p in model.parameters()),
        "epochs": num_epochs,
        "s/epoch": seconds / num_epochs,
        "train s": seconds,
        "val acc": history[-1]["val_accuracy"],
        "test acc": test["accuracy"],
        "test acc TTA": tta.mean().item(),
    }


ABLATION: dict[str, dict[str, Any]] = {
    "recipe (shift 1 + flip, BN, one-cycle, 16-32-64)": {},
    "shift 2 + flip": {"padding": 2},
    "flips only (no shift)": {"padding": 0},
    "no augmentation": {"padding": None},
    "no BatchNorm": {"batchnorm": False},
    "constant lr (no one-cycle)": {"one_cycle": False},
    "narrower 8-16-32": {"widths": (8, 16, 32)},
    "wider 32-64-128": {"widths": (32, 64, 128)},
    "shallower 16-32 (2 blocks)": {"widths": (16, 32)},
}


def headline(splits: dict[str, Any], device: torch.device, args) -> dict[str, Any]:
    load = os.getloadavg()[0]
    row = run(splits, device, args.epochs, args.seed)
    print(f"load average before: {load:.2f}, after: {os.getloadavg()[0]:.2f}")
    print(f"parameters:            {row['parameters']:,}")
    print(f"epochs:                {row['epochs']}")
    print(f"seconds per epoch:     {row['s/epoch']:.1f}")
    print(f"training wall time:    {row['train s']:.1f} s")
    print(f"validation accuracy:   {row['val acc']:.4f}")
    print(f"test accuracy:         {row['test acc']:.4f}")
    print(f"test accuracy, TTA:    {row['test acc TTA']:.4f} (image + its mirror)")
    return row


def ablation(splits: dict[str, Any], device: torch.device, args) -> pd.DataFrame:
    if args.ablation_subset is not None:
        subset = splits["train"][: args.ablation_subset]
        splits = splits | {"train": torch.utils.data.TensorDataset(*subset)}
    images, epochs = len(splits["train"]), args.ablation_epochs
    print(f"ablation: {images} training images, {epochs} epochs per run")
    rows = {}
    for name, change in ABLATION.items():
        rows[name] = run(splits, device, args.ablation_epochs, args.seed, **change)
        rows[name]["load"] = os.getloadavg()[0]
        print(f"{name}: {rows[name]}", flush=True)
    table = pd.DataFrame(rows).T.astype({"parameters": int, "epochs": int})
    digits = {"s/epoch": 1, "train s": 1, "load": 1}  # accuracies keep 4 digits
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(digits).round(4).to_string())
    return table


# ---------------------------------------------------------------------------------
# main(): the benchmark's steps, in order. Add further reports (such as chapter 07's
# speed-up table) as one more call at the end.
# ---------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default=str(repository_path("data")))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=16)
    parser.add_argument("--ablation", action="store_true")
    parser.add_argument("--ablation-epochs", type=int, default=5)
    parser.add_argument("--ablation-subset", type=int, default=None)
    parser.add_argument("--train-subset", type=int, default=None, help="quick tries")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    splits = fashion_mnist_tensors(args.data_root, args.seed)
    if args.train_subset is not None:
        subset = splits["train"][: args.train_subset]
        splits["train"] = torch.utils.data.TensorDataset(*subset)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device}")
    headline(splits, device, args)
    if args.ablation:
        ablation(splits, device, args)
    from speedups import print_cnn_speedups  # chapter 07's table, benchmarks/

    print_cnn_speedups(splits, args)


if __name__ == "__main__":
    main()
