"""Benchmark: the classic FashionMNIST training loop against notebook 05's recipe, then
chapter 07's MLP speed-up table, in one process.

Both loops train the same 784-128-64-32-10 MLP (``torchprimer.models.MLP``) on the same
seeded 50,000-image training split for the same number of epochs, validating on the
other 10,000 after every epoch, then report test accuracy.

- "classic": ``ToTensor`` datasets read through ``DataLoader`` (PIL image per sample),
  ``torch.optim.SGD(model.parameters())`` at its default lr (1e-3), batch 128, the
  ``train_loop``/``val_loop`` structure of the original tutorial;
- "notebook 05": ``fashion_mnist_tensors`` (the whole dataset as standardised tensors,
  converted once), a shuffled ``DataLoader`` over its ``TensorDataset``, AdamW (lr 6e-3,
  weight decay 0.05) + OneCycleLR + label smoothing 0.1, batch 256,
  ``torchprimer.engine.fit``.

Then ``speedups.mlp_speedups``: chapter 07's data paths and model-side changes (threads,
the AdamW implementation, bfloat16 autocast, torch.compile, batch size), each with
notebook 05's recipe and several seeds, as a table with seconds per epoch, speed-up and
test accuracy, and the fastest row against chapter 07's roofline estimate.

Run: ``make benchmark`` (everything) or ``.venv/bin/python benchmarks/train_mlp.py``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import torch
from speedups import mlp_speedups
from torch import nn
from torch.utils.data import DataLoader, TensorDataset, random_split
from torchvision import datasets
from torchvision.transforms import ToTensor

from torchprimer.data import ensure_fashion_mnist
from torchprimer.engine import evaluate, fit
from torchprimer.fashion_mnist import fashion_mnist_tensors
from torchprimer.models import MLP
from torchprimer.seeding import make_generator

ROOT = Path(__file__).resolve().parents[1]


# --- the classic loop, as the original tutorial wrote it (prints removed) -------------


def classic_train_loop(
    dataloader: DataLoader,
    model: nn.Module,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
) -> None:
    model.train()
    for X, y in dataloader:
        pred = model(X)
        loss = loss_fn(pred, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()


def classic_val_loop(
    dataloader: DataLoader, model: nn.Module, loss_fn: nn.Module
) -> float:
    model.eval()
    correct = 0.0
    with torch.no_grad():
        for X, y in dataloader:
            pred = model(X)
            loss_fn(pred, y).item()
            correct += (pred.argmax(1) == y).type(torch.float).sum().item()
    return correct / len(dataloader.dataset)


def run_classic(data_root: str, epochs: int, seed: int) -> dict[str, float]:
    training_data = datasets.FashionMNIST(
        root=data_root, train=True, download=True, transform=ToTensor()
    )
    test_data = datasets.FashionMNIST(
        root=data_root, train=False, download=True, transform=ToTensor()
    )
    train_split, val_split = random_split(
        training_data, [50_000, 10_000], generator=make_generator(seed)
    )
    train_dataloader = DataLoader(
        train_split, batch_size=128, shuffle=True, generator=make_generator(seed)
    )
    val_dataloader = DataLoader(val_split, batch_size=128)
    test_dataloader = DataLoader(test_data, batch_size=128)
    torch.manual_seed(seed)
    model = MLP()
    loss_fn = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(model.parameters())  # lr defaults to 1e-3
    start = time.perf_counter()
    for _ in range(epochs):
        classic_train_loop(train_dataloader, model, loss_fn, optimizer)
        classic_val_loop(val_dataloader, model, loss_fn)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "test_accuracy": classic_val_loop(test_dataloader, model, loss_fn),
    }


# --- notebook 05's loop ---------------------------------------------------------------


def run_notebook(
    splits: dict[str, TensorDataset],
    epochs: int,
    seed: int,
    lr: float = 6e-3,
    batch_size: int = 256,
) -> dict[str, float]:
    device = torch.device("cpu")
    train_dataloader = DataLoader(
        splits["train"], batch_size, shuffle=True, generator=make_generator(seed)
    )
    val_dataloader = DataLoader(splits["val"], 1000)
    torch.manual_seed(seed)
    model = MLP()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=epochs * len(train_dataloader)
    )
    start = time.perf_counter()
    fit(
        model,
        train_dataloader,
        val_dataloader,
        loss_fn,
        optimizer,
        device,
        epochs,
        scheduler=scheduler,
        progress=False,
    )
    seconds = time.perf_counter() - start
    test_dataloader = DataLoader(splits["test"], 1000)
    test = evaluate(model, test_dataloader, nn.CrossEntropyLoss(), device)
    return {"seconds": seconds, "test_accuracy": test["accuracy"]}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    # the docstring's first paragraph, joined onto one line
    description = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classic-epochs", type=int, default=5)
    parser.add_argument("--data-root", default=str(ROOT / "data"))
    parser.add_argument(
        "--train-subset", type=int, default=None, help="speed-up table: quick tries"
    )
    args = parser.parse_args(argv)
    ensure_fashion_mnist(args.data_root)
    seed, epochs = args.seeds[0], args.classic_epochs
    print(
        f"\nMLP: torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.2f}; classic loop against notebook 05, "
        f"{epochs} epochs, seed {seed}, 50,000 training / 10,000 validation images"
    )
    prep_start = time.perf_counter()
    splits = fashion_mnist_tensors(args.data_root, seed)
    prep_seconds = time.perf_counter() - prep_start
    ours = run_notebook(splits, epochs, seed)
    classic = run_classic(args.data_root, epochs, seed)
    rows = [
        ("classic loop (ToTensor DataLoader, SGD lr=1e-3, batch 128)", classic),
        ("notebook 05 (tensors in memory, AdamW + OneCycle, batch 256)", ours),
    ]
    print(f"{'loop':<64} {'s/epoch':>8} {'total s':>8} {'test acc':>9}")
    for name, r in rows:
        print(
            f"{name:<64} {r['seconds'] / epochs:>8.2f} {r['seconds']:>8.1f} "
            f"{r['test_accuracy']:>9.4f}"
        )
    speedup = classic["seconds"] / ours["seconds"]
    print(
        f"\nspeed-up classic / notebook 05: {speedup:.1f}x (one-off conversion into "
        f"tensors for notebook 05: {prep_seconds:.1f} s, not included)"
    )
    if args.train_subset is not None:
        splits["train"] = TensorDataset(*splits["train"][: args.train_subset])
    table = mlp_speedups(splits, args.data_root, args.epochs, args.seeds)
    return {
        "classic": classic | {"epochs": epochs},
        "notebook 05": ours | {"epochs": epochs},
        "classic / notebook 05": speedup,
        "speed-ups": table,
    }


if __name__ == "__main__":
    main()
