"""Chapter 07's speed-up tables at full size: one model trained with one change at a
time, in one process, every row timed, and trained rows tested over several seeds.

``benchmarks/train_mlp.py`` prints the MLP table (chapter 05's recipe) and
``benchmarks/run_all.py`` the CNN table (chapter 06's recipe). Each trained row reports
the median seconds per epoch after the first (training + one validation pass), the
extra time of the first epoch (warm-up; for ``torch.compile`` the compile time), the
speed-up over the table's first row, and the mean test accuracy over the seeds with
its spread. Data-path rows time a few epochs only (the loader changes the speed, not
what the model learns: chapter 07 shows identical weights), so they have no accuracy.
Under the MLP table: the compute bound of chapter 07's roofline estimate, the
training FLOPs of an epoch (``FlopCounterMode``) at the best matmul rate measured here.

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
from torchprimer.speed import Autocast, count_flops, flops_per_second, training_step
from torchprimer.vision import AugmentedLoader

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]


@contextlib.contextmanager
def threads_set_to(n: int | None) -> Iterator[None]:
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
    threads: int | None = None,
    optimizer_kwargs: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Train with AdamW (weight decay 0.05) + OneCycleLR + label smoothing 0.1; returns
    seconds per epoch (median after the first), the first epoch's extra seconds, and
    the test accuracy (NaN without ``test_dataloader``)."""
    device = torch.device("cpu")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=lr, weight_decay=0.05, **(optimizer_kwargs or {})
    )
    total_steps = num_epochs * len(train_dataloader)  # type: ignore[arg-type]
    if total_steps < 4:
        raise ValueError(
            f"{total_steps} optimizer steps are too few for a one-cycle schedule: "
            "give --train-subset or the epochs a larger value"
        )
    pct_start = max(pct_start, 2 / total_steps)  # a warm-up of 2 steps or more
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total_steps, pct_start=pct_start
    )
    seconds = []
    with threads_set_to(threads):
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


def over_seeds(runs: list[dict[str, float]]) -> dict[str, float]:
    """Mean timings and the mean, smallest and largest test accuracy of ``runs``."""
    acc = [r["test acc"] for r in runs]
    return {
        "s/epoch": statistics.fmean(r["s/epoch"] for r in runs),
        "first epoch extra s": statistics.fmean(r["first epoch extra s"] for r in runs),
        "test acc": statistics.fmean(acc),
        "acc min": min(acc),
        "acc max": max(acc),
        "load": max(r["load"] for r in runs),
    }


def seeded_runs(
    seeds: list[int],
    model_class: type[nn.Module],
    make_batches: Callable[[torch.Generator], Batches],
    layout: dict[str, bool],
    **train: Any,
) -> dict[str, float]:
    """``train_timed`` once per seed (its initial weights and batch order), the
    model changed as ``layout`` says (channels_last, bf16 autocast, compile)."""
    runs = []
    for seed in seeds:
        torch.manual_seed(seed)
        model = model_class()
        if layout.get("channels_last"):
            model = model.to(memory_format=torch.channels_last)
        if layout.get("bf16"):
            model = Autocast(model, torch.bfloat16)
        if layout.get("compile"):
            model = torch.compile(model)
        batches = make_batches(torch.Generator().manual_seed(seed))
        runs.append(train_timed(model, batches, **train))
    return over_seeds(runs)


def speedup_table(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """Rows in order; ``speed-up`` is the first row's s/epoch over each row's."""
    table = pd.DataFrame(rows).T
    table.insert(1, "speed-up", table["s/epoch"].iloc[0] / table["s/epoch"])
    return table


def peak_flops(sizes: Iterable[int] = (512, 1024, 2048)) -> float:
    """Chapter 07's peak: the best FLOP rate of n x n float32 matmuls, on the threads
    this process uses."""
    with torch.no_grad():
        mats = [torch.randn(n, n) for n in sizes]
        return max(flops_per_second(lambda a=a: a @ a, 5) for a in mats)


def epoch_flops(model: nn.Module, X: torch.Tensor, y: torch.Tensor, splits) -> float:
    """Counted FLOPs of one epoch: a training step per batch over the training split
    and a forward pass over the validation split (``X`` is one batch)."""
    optimizer = torch.optim.AdamW(model.parameters())
    step = training_step(model, nn.CrossEntropyLoss(), optimizer, X, y)
    train = count_flops(step) / len(X) * len(splits["train"])
    with torch.no_grad():
        forward = count_flops(lambda: model(X)) / len(X) * len(splits["val"])
    return train + forward


def print_table(title: str, table: pd.DataFrame) -> None:
    digits = {"s/epoch": 2, "speed-up": 2, "first epoch extra s": 1, "load": 1}
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(f"\n{title}\n")
        print(table.round(digits).round(4).to_string())


# --- the MLP: data paths, then model-side changes, chapter 05's recipe --------------


def mlp_speedups(
    splits: dict[str, TensorDataset],
    data_root: str,
    num_epochs: int,
    seeds: list[int],
    lr: float = 6e-3,
    data_epochs: int = 2,
    num_workers: int = 2,
) -> dict[str, Any]:
    """Chapter 07's MLP table: the chapter's data paths (timed only), then model-side
    changes on ``TensorLoader`` batches, each trained for every seed."""
    X_train, y_train = splits["train"].tensors
    val = TensorLoader(*splits["val"].tensors, 1000)
    test = TensorLoader(*splits["test"].tensors, 1000)
    seed = seeds[0]
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

    def loader(data: Dataset, **kwargs: Any) -> DataLoader:
        generator = torch.Generator().manual_seed(seed)
        return DataLoader(data, 256, True, generator=generator, **kwargs)

    workers = dict(num_workers=num_workers, persistent_workers=num_workers > 0)
    data_paths: dict[str, Callable[[], Batches]] = {
        "DataLoader, PIL + v2 transforms": lambda: loader(pil),
        "DataLoader, v2 transforms on tensors": lambda: loader(on_tensors),
        f"DataLoader, PIL, {num_workers} persistent workers": lambda: loader(
            pil, **workers
        ),
        "DataLoader over TensorDataset (ch. 05)": lambda: loader(splits["train"]),
    }
    rows: dict[str, dict[str, float]] = {}
    for name, make_loader in data_paths.items():
        torch.manual_seed(seed)
        epochs = min(data_epochs, num_epochs)
        rows[name] = train_timed(MLP(), make_loader(), val, None, epochs, lr)
        rows[name] |= {"acc min": float("nan"), "acc max": float("nan")}
        print(f"{name}: {rows[name]}", flush=True)

    fused = {"fused": True}
    # name: (batch size, lr, threads, AdamW options, model changes)
    model_side: dict[str, tuple[int, float, int | None, dict, dict]] = {
        "TensorLoader (ch. 06)": (256, lr, None, {}, {}),
        "TensorLoader, 1 thread": (256, lr, 1, {}, {}),
        "TensorLoader, foreach AdamW": (256, lr, None, {"foreach": True}, {}),
        "TensorLoader, fused AdamW": (256, lr, None, fused, {}),
        "TensorLoader, bf16 autocast": (256, lr, None, {}, {"bf16": True}),
        "TensorLoader, torch.compile": (256, lr, None, {}, {"compile": True}),
        "TensorLoader, batch 1024, lr x2, fused AdamW": (1024, 2 * lr, None, fused, {}),
    }
    for name, (batch_size, row_lr, threads, kwargs, layout) in model_side.items():

        def batches(generator: torch.Generator, size: int = batch_size) -> Batches:
            return TensorLoader(X_train, y_train, size, True, generator)

        rows[name] = seeded_runs(
            seeds,
            MLP,
            batches,
            layout,
            val_dataloader=val,
            test_dataloader=test,
            num_epochs=num_epochs,
            lr=row_lr,
            threads=threads,
            optimizer_kwargs=kwargs,
        )
        print(f"{name}: {rows[name]}", flush=True)
    table = speedup_table(rows)
    print_table(
        f"MLP speed-ups (chapter 05's recipe, {num_epochs} epochs, seeds {seeds})",
        table,
    )
    X, y = X_train[:256], y_train[:256]
    flops = epoch_flops(MLP(), X, y, splits)
    peak = peak_flops()
    bound = flops / peak
    fastest = table["s/epoch"].idxmin()
    ratio = table.loc[fastest, "s/epoch"] / bound
    print(
        f"\nroofline estimate: {flops / 1e9:.1f} GFLOP per epoch (training steps + "
        f"validation) at {peak / 1e9:.0f} GFLOP/s (best n x n matmul, "
        f"{torch.get_num_threads()} threads) = {bound:.3f} s/epoch; fastest row "
        f"({fastest}): {table.loc[fastest, 's/epoch']:.3f} s/epoch = {ratio:.2f}x "
        "the estimate"
    )
    return {
        "table": table.reset_index(names="configuration").to_dict("records"),
        "GFLOP per epoch": flops / 1e9,
        "peak GFLOP/s": peak / 1e9,
        "bound s/epoch": bound,
        "fastest": fastest,
        "fastest / bound": ratio,
    }


# --- the CNN: model-side changes, chapter 06's recipe --------------------------------


def cnn_speedups(
    splits: dict[str, TensorDataset],
    num_epochs: int,
    seeds: list[int],
    lr: float = 4e-3,
) -> dict[str, Any]:
    """Chapter 07's CNN table: chapter 06's recipe (in-memory batches, augmentation,
    AdamW + OneCycleLR with pct_start 0.25, label smoothing) with one change per row,
    each trained for every seed."""
    X_train, y_train = splits["train"].tensors
    val = TensorLoader(*splits["val"].tensors, 1000)
    test = TensorLoader(*splits["test"].tensors, 1000)
    # name: (model changes, AdamW options)
    cl = {"channels_last": True}
    configs: dict[str, tuple[dict, dict]] = {
        "eager float32, contiguous": ({}, {}),
        "channels_last": (cl, {}),
        "channels_last, fused AdamW": (cl, {"fused": True}),
        "channels_last, bf16 autocast, fused AdamW": (
            cl | {"bf16": True},
            {"fused": True},
        ),
    }

    def batches(generator: torch.Generator) -> Batches:
        return AugmentedLoader(X_train, y_train, 256, 1, generator)

    rows = {}
    for name, (layout, kwargs) in configs.items():
        rows[name] = seeded_runs(
            seeds,
            CNN,
            batches,
            layout,
            val_dataloader=val,
            test_dataloader=test,
            num_epochs=num_epochs,
            lr=lr,
            pct_start=0.25,
            optimizer_kwargs=kwargs,
        )
        print(f"{name}: {rows[name]}", flush=True)
    table = speedup_table(rows)
    print_table(
        f"CNN speed-ups (chapter 06's recipe, {num_epochs} epochs, seeds {seeds})",
        table,
    )
    base_acc = table["test acc"].iloc[0]
    equal = table[(table["test acc"] - base_acc).abs() <= 0.003]
    fastest = equal["s/epoch"].idxmin()
    print(
        f"fastest at equal accuracy (within 0.3 points of the first row's mean): "
        f"{fastest}, {table.loc[fastest, 'speed-up']:.2f}x"
    )
    return {
        "table": table.reset_index(names="configuration").to_dict("records"),
        "fastest at equal accuracy": fastest,
        "speed-up": float(table.loc[fastest, "speed-up"]),
    }
