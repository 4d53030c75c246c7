"""Chapter 07's speed-up tables: one model trained with one change at a time, in one
process, each row timed and tested.

``benchmarks/train_mlp.py`` prints the MLP table (chapter 05's recipe) and
``benchmarks/train_cnn.py`` the CNN table (chapter 06's recipe). Each row reports the
median seconds per epoch after the first (training + validation), the extra time of
the first epoch (warm-up; for ``torch.compile`` this is the compile time), the speed-up
over the table's first row, and the test accuracy after the full run. Data-path rows
time ``data_epochs`` epochs only (the loader changes the speed, not what the model
learns: notebook 07 shows identical weights), so they have no test accuracy. Under
the table: the compute bound, the model's training FLOPs per epoch (counted with
``FlopCounterMode``) over the best matmul/conv FLOP rate measured here.

Timings depend on the machine's load; the load average is printed with them.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset
from torchvision import datasets
from torchvision.transforms import v2

from torchprimer.engine import evaluate, train_one_epoch
from torchprimer.loaders import TensorLoader, TransformedTensors
from torchprimer.models import CNN, MLP
from torchprimer.speed import count_flops, flops_per_second, training_step
from torchprimer.vision import AugmentedLoader

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: unchanged), then restore."""
    before = torch.get_num_threads()
    torch.set_num_threads(n or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_timed(
    model: nn.Module,
    train_dataloader: Batches,
    val_dataloader: Batches,
    test_dataloader: Batches | None,
    num_epochs: int,
    lr: float,
    pct_start: float = 0.3,
    dtype: torch.dtype | None = None,
    threads: int | None = None,
) -> dict[str, float]:
    """Train with AdamW (weight decay 0.05) + OneCycleLR + label smoothing 0.1;
    returns seconds per epoch (median after the first), the first epoch's extra
    seconds, and the test accuracy (NaN without ``test_dataloader``)."""
    device = torch.device("cpu")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    total_steps = num_epochs * len(train_dataloader)  # type: ignore[arg-type]
    pct_start = max(pct_start, 2 / total_steps)  # a warm-up of 2 steps or more
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total_steps, pct_start=pct_start
    )
    # one autocast region around all epochs: its cache of low-precision weight copies
    # must be off, or every step after the first computes with the initial weights
    autocast = torch.autocast(
        "cpu", dtype=dtype, enabled=dtype is not None, cache_enabled=False
    )
    seconds = []
    with num_threads(threads), autocast:
        for _ in range(num_epochs):
            start = time.perf_counter()
            train_one_epoch(
                model, train_dataloader, loss_fn, optimizer, device, scheduler
            )
            evaluate(model, val_dataloader, loss_fn, device)
            seconds.append(time.perf_counter() - start)
        test = float("nan")
        if test_dataloader is not None:
            test = evaluate(model, test_dataloader, nn.CrossEntropyLoss(), device)
            test = test["accuracy"]
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return {
        "s/epoch": steady,
        "first epoch extra s": seconds[0] - steady,
        "test acc": test,
        "load": os.getloadavg()[0],
    }


def speedup_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Rows in order; ``speed-up`` is the first row's s/epoch over each row's."""
    table = pd.DataFrame(rows).T
    table.insert(1, "speed-up", table["s/epoch"].iloc[0] / table["s/epoch"])
    return table


def compute_bound(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, num_train: int
) -> dict[str, float]:
    """Training FLOPs per epoch and the best FLOP rate measured (matmuls at the
    batch's size and 1024 x 1024, a 3x3 convolution), and their ratio in seconds."""
    optimizer = torch.optim.AdamW(model.parameters())
    step = training_step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    flops = count_flops(step) / len(X) * num_train
    A, B = torch.randn(len(X), 784), torch.randn(784, 128)
    square = torch.randn(1024, 1024)
    conv = nn.Conv2d(16, 32, 3, padding=1, bias=False)
    maps = torch.randn(len(X), 16, 14, 14)
    with torch.no_grad():
        rates = [
            flops_per_second(lambda: A @ B, 20),
            flops_per_second(lambda: square @ square, 5),
            flops_per_second(lambda: conv(maps), 5),
        ]
    return {
        "GFLOP/epoch": flops / 1e9,
        "GFLOP/s": max(rates) / 1e9,
        "bound s": flops / max(rates),
    }


def print_table(title: str, table: pd.DataFrame, bound: dict[str, float]) -> None:
    fastest = table["s/epoch"].idxmin()
    if "epochs" in table:
        table = table.astype({"epochs": int})
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\n{title}\n")
        print(
            table.round(
                {
                    "s/epoch": 2,
                    "speed-up": 2,
                    "first epoch extra s": 1,
                    "test acc": 4,
                    "load": 1,
                }
            ).to_string()
        )
    print(
        f"\ncompute bound: {bound['GFLOP/epoch']:.1f} GFLOP per training epoch at "
        f"{bound['GFLOP/s']:.1f} GFLOP/s (best rate measured) = "
        f"{bound['bound s']:.2f} s/epoch; fastest row ({fastest}): "
        f"{table.loc[fastest, 's/epoch']:.2f} s/epoch = "
        f"{table.loc[fastest, 's/epoch'] / bound['bound s']:.1f}x the bound"
    )
    print(f"biggest speed-up: {fastest}, {table['speed-up'].max():.1f}x")


# --- the MLP: data paths, then model-side changes, chapter 05's recipe --------------


def mlp_speedups(
    splits: dict[str, TensorDataset],
    data_root: str,
    num_epochs: int,
    seed: int,
    lr: float = 6e-3,
    data_epochs: int = 2,
    num_workers: int = 2,
) -> pd.DataFrame:
    """Chapter 07's MLP table: every data path of the chapter, then model-side
    changes on the in-memory path, each with chapter 05's recipe."""
    X_train, y_train = splits["train"].tensors
    val = TensorLoader(*splits["val"].tensors, 1000)
    test = TensorLoader(*splits["test"].tensors, 1000)
    # the same split and standardisation as fashion_mnist_tensors, through PIL
    raw = datasets.FashionMNIST(data_root, train=True)
    order = torch.randperm(len(raw), generator=torch.Generator().manual_seed(seed))
    train_idx = order[10_000:][: len(y_train)]
    std, mean = (
        t.item() for t in torch.std_mean(raw.data[order[10_000:]].double() / 255)
    )
    transform = v2.Compose(
        [
            v2.ToImage(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([mean], [std]),
        ]
    )
    pil = Subset(datasets.FashionMNIST(data_root, True, transform), train_idx.tolist())
    on_tensors = TransformedTensors(
        raw.data[train_idx], raw.targets[train_idx], transform
    )

    def loader(data: Dataset, batch_size: int = 256, **kwargs: Any) -> DataLoader:
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(data, batch_size, True, generator=generator, **kwargs)

    def tensors(batch_size: int = 256) -> TensorLoader:
        generator = torch.Generator().manual_seed(seed)
        return TensorLoader(X_train, y_train, batch_size, True, generator)

    workers = dict(num_workers=num_workers, persistent_workers=num_workers > 0)
    configs: dict[str, tuple[Callable[[], Batches], dict[str, Any], bool]] = {
        "DataLoader, PIL + v2 transforms": (lambda: loader(pil), {}, False),
        "DataLoader, v2 transforms on tensors": (lambda: loader(on_tensors), {}, False),
        f"DataLoader, PIL, {num_workers} persistent workers": (
            lambda: loader(pil, **workers),
            {},
            False,
        ),
        "DataLoader over TensorDataset (ch. 05)": (
            lambda: loader(splits["train"]),
            {},
            True,
        ),
        "TensorLoader": (tensors, {}, True),
        "TensorLoader, 1 thread": (tensors, {"threads": 1}, True),
        "TensorLoader, bf16 autocast": (tensors, {"dtype": torch.bfloat16}, True),
        "TensorLoader, torch.compile": (tensors, {"compile": True}, True),
        "TensorLoader, batch 64": (lambda: tensors(64), {}, True),
        "TensorLoader, batch 1024": (lambda: tensors(1024), {}, True),
    }
    rows = {}
    for name, (make_loader, options, full) in configs.items():
        torch.manual_seed(seed)
        model: nn.Module = MLP()
        if options.pop("compile", False):
            model = torch.compile(model)
        epochs = num_epochs if full else min(data_epochs, num_epochs)
        rows[name] = train_timed(
            model, make_loader(), val, test if full else None, epochs, lr, **options
        )
        print(f"{name}: {rows[name]}", flush=True)
    table = speedup_table(rows)
    X, y = X_train[:256], y_train[:256]
    print_table(
        "MLP speed-ups (chapter 05's recipe)",
        table,
        compute_bound(MLP(), X, y, len(y_train)),
    )
    return table


# --- the CNN: model-side changes, chapter 06's recipe --------------------------------


def cnn_speedups(
    splits: dict[str, TensorDataset],
    num_epochs: int,
    seed: int,
    lr: float = 4e-3,
    bf16_epochs: int = 1,
) -> pd.DataFrame:
    """Chapter 07's CNN table: chapter 06's recipe (in-memory batches, augmentation,
    AdamW + OneCycleLR with pct_start 0.25, label smoothing) with one change per row.
    bfloat16 is slow on CPUs without bf16 instructions, so its row trains only
    ``bf16_epochs`` epochs (its test accuracy is then that of a shorter run)."""
    X_train, y_train = splits["train"].tensors
    val = TensorLoader(*splits["val"].tensors, 1000)
    test = TensorLoader(*splits["test"].tensors, 1000)

    def batches(batch_size: int = 256) -> AugmentedLoader:
        generator = torch.Generator().manual_seed(seed)
        return AugmentedLoader(
            X_train, y_train, batch_size, padding=1, generator=generator
        )

    cl = {"channels_last": True}
    configs: dict[str, tuple[int, dict[str, Any]]] = {
        "eager float32, contiguous": (256, {}),
        "channels_last (ch. 06)": (256, cl),
        "channels_last, 1 thread": (256, cl | {"threads": 1}),
        "channels_last, torch.compile": (256, cl | {"compile": True}),
        "channels_last, batch 1024": (1024, cl),
        "channels_last, bf16 autocast": (256, cl | {"dtype": torch.bfloat16}),
    }
    rows = {}
    for name, (batch_size, options) in configs.items():
        torch.manual_seed(seed)
        model: nn.Module = CNN()
        if options.pop("channels_last", False):
            model = model.to(memory_format=torch.channels_last)
        if options.pop("compile", False):
            model = torch.compile(model)
        epochs = num_epochs
        if options.get("dtype") is not None:
            epochs = min(num_epochs, max(bf16_epochs, 1))
        rows[name] = train_timed(
            model, batches(batch_size), val, test, epochs, lr, 0.25, **options
        )
        rows[name]["epochs"] = epochs
        print(f"{name}: {rows[name]}", flush=True)
    table = speedup_table(rows)
    X, y = X_train[:256], y_train[:256]
    print_table(
        "CNN speed-ups (chapter 06's recipe)",
        table,
        compute_bound(CNN(), X, y, len(y_train)),
    )
    return table


def print_cnn_speedups(splits: dict[str, TensorDataset], args: Any) -> pd.DataFrame:
    """The CNN table for ``benchmarks/train_cnn.py``'s ``main()``: as many epochs as
    its ablation runs (``--ablation-epochs``)."""
    return cnn_speedups(splits, args.ablation_epochs, args.seed)
