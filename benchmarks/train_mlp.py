"""Benchmark: the classic FashionMNIST training loop against notebook 05's loop, in
one process.

Both train the same 784-128-64-32-10 MLP (``torchprimer.models.MLP``) on the same
seeded 50,000-image training split for the same number of epochs, validating on the
other 10,000 after every epoch, then report test accuracy.

- "classic": ``ToTensor`` datasets read through ``DataLoader`` (PIL image per sample),
  ``torch.optim.SGD(model.parameters())`` at its default lr (1e-3), batch 128, the
  ``train_loop``/``val_loop`` structure of the original tutorial;
- "notebook 05": the whole dataset as one normalised tensor, ``TensorLoader``, AdamW +
  OneCycleLR + label smoothing, batch 256, ``torchprimer.engine.fit``.

It also prints a compute bound: the model's matmul FLOPs per epoch (forward + backward
is about 3x the forward matmuls) divided by the matmul FLOP/s measured here.

Run: ``make benchmark`` or
``OMP_NUM_THREADS=2 .venv/bin/python benchmarks/train_mlp.py [--epochs 15]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, random_split
from torchvision import datasets
from torchvision.transforms import ToTensor

from torchprimer.data import ensure_fashion_mnist
from torchprimer.engine import evaluate, fit
from torchprimer.loaders import TensorLoader
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
    data_root: str, epochs: int, seed: int, lr: float = 4e-3, batch_size: int = 256
) -> dict[str, float]:
    prep_start = time.perf_counter()
    training_data = datasets.FashionMNIST(root=data_root, train=True, download=True)
    test_data = datasets.FashionMNIST(root=data_root, train=False, download=True)
    train_split, val_split = random_split(
        training_data, [50_000, 10_000], generator=make_generator(seed)
    )
    images = training_data.data.float() / 255
    mean = images[train_split.indices].mean(dtype=torch.float64).item()
    std = images[train_split.indices].std().item()

    def normalize(x: torch.Tensor) -> torch.Tensor:
        return ((x - mean) / std).unsqueeze(1)

    X_train, y_train = (
        normalize(images[train_split.indices]),
        training_data.targets[train_split.indices],
    )
    X_val, y_val = (
        normalize(images[val_split.indices]),
        training_data.targets[val_split.indices],
    )
    X_test, y_test = normalize(test_data.data.float() / 255), test_data.targets
    prep_seconds = time.perf_counter() - prep_start

    device = torch.device("cpu")
    train_dataloader = TensorLoader(
        X_train, y_train, batch_size, shuffle=True, generator=make_generator(seed)
    )
    val_dataloader = TensorLoader(X_val, y_val, 1000)
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
    test = evaluate(
        model, TensorLoader(X_test, y_test, 1000), nn.CrossEntropyLoss(), device
    )
    return {
        "seconds": seconds,
        "test_accuracy": test["accuracy"],
        "prep_seconds": prep_seconds,
    }


# --- the compute bound ----------------------------------------------------------------


def mlp_matmul_flops_per_sample(sizes: tuple[int, ...] = (784, 128, 64, 32, 10)) -> int:
    """Forward matmul FLOPs for one sample (2 per multiply-add)."""
    return sum(2 * a * b for a, b in zip(sizes[:-1], sizes[1:]))


def measured_matmul_flops(m: int, k: int, n: int, seconds: float = 1.0) -> float:
    """FLOP/s of repeated (m x k) @ (k x n) float32 matmuls on the CPU."""
    a, b = torch.randn(m, k), torch.randn(k, n)
    for _ in range(3):
        a @ b
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
    return 2 * m * k * n * count / (time.perf_counter() - start)


def main() -> None:
    # the docstring's first paragraph, joined onto one line
    description = " ".join(__doc__.split("\n\n")[0].split())
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=str(ROOT / "data"))
    args = parser.parse_args()
    ensure_fashion_mnist(args.data_root)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{args.epochs} epochs, "
        f"50,000 training / 10,000 validation images\n"
    )

    flops_square = measured_matmul_flops(1024, 1024, 1024)
    flops_layer = measured_matmul_flops(256, 784, 128)
    train_flops = 3 * mlp_matmul_flops_per_sample() * 50_000
    val_flops = mlp_matmul_flops_per_sample() * 10_000
    bound = (train_flops + val_flops) / flops_square

    ours = run_notebook(args.data_root, args.epochs, args.seed)
    classic = run_classic(args.data_root, args.epochs, args.seed)

    rows = [
        ("classic loop (ToTensor DataLoader, SGD lr=1e-3, batch 128)", classic),
        ("notebook 05 (in-memory tensors, AdamW + OneCycle, batch 256)", ours),
    ]
    print(f"{'loop':<64} {'s/epoch':>8} {'total s':>8} {'test acc':>9}")
    for name, r in rows:
        print(
            f"{name:<64} {r['seconds'] / args.epochs:>8.2f} {r['seconds']:>8.1f} "
            f"{r['test_accuracy']:>9.4f}"
        )
    print(
        "\nspeed-up classic / notebook 05: "
        f"{classic['seconds'] / ours['seconds']:.1f}x "
        "(one-off tensor preparation for notebook 05: "
        f"{ours['prep_seconds']:.1f} s, not included)"
    )
    print(
        f"\nmatmul throughput: {flops_square / 1e9:.1f} GFLOP/s (1024x1024x1024), "
        f"{flops_layer / 1e9:.1f} GFLOP/s (256x784 @ 784x128, the first layer)"
    )
    print(
        f"model: {mlp_matmul_flops_per_sample() / 1e3:.0f} kFLOP forward per image; "
        f"per epoch {train_flops / 1e9:.1f} GFLOP training (3x forward) + "
        f"{val_flops / 1e9:.1f} GFLOP validation"
    )
    print(
        f"compute bound: {bound:.2f} s/epoch; "
        f"notebook 05 loop: {ours['seconds'] / args.epochs:.2f} s/epoch "
        f"= {ours['seconds'] / args.epochs / bound:.1f}x the bound; classic loop: "
        f"{classic['seconds'] / args.epochs / bound:.0f}x the bound"
    )


if __name__ == "__main__":
    main()
