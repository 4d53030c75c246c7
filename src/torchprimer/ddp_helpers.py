"""Plumbing for chapter 09's training script: options, data, logging, results.

Hand-written: the script that chapter 09 writes (and ``make export`` copies into
``torchprimer.ddp_train``) imports these, and the chapter says what each does without
teaching its code. Every function here runs inside a process that torchrun started,
after ``init_process_group``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchprimer.files import temporary_path
from torchprimer.paths import repository_path

__all__ = [
    "batches_for_epoch",
    "epoch_row",
    "load_data",
    "log",
    "log_epoch",
    "parse_args",
    "say_hello",
    "time_all_reduce",
    "write_result",
]


def log(message: str, every_rank: bool = False) -> None:
    """Print ``[rank N] message`` from rank 0 (or from every rank), at once, in one
    write: the processes share one output, and a line printed in pieces (``print``
    writes the text and the newline separately) can be cut by another's."""
    rank = dist.get_rank()
    if every_rank or rank == 0:
        sys.stdout.write(f"[rank {rank}] {message}\n")
        sys.stdout.flush()


def epoch_row(
    epoch: int, train: dict[str, float], val: dict[str, float], seconds: float
) -> dict[str, float]:
    """One epoch of history: train_loss, train_accuracy, val_loss, val_accuracy and
    the seconds the training pass took in this process."""
    row = {"epoch": epoch} | {f"train_{k}": v for k, v in train.items()}
    return row | {f"val_{k}": v for k, v in val.items()} | {"seconds": seconds}


def log_epoch(row: dict[str, float], num_epochs: int) -> None:
    """One line per epoch, from rank 0, with the metrics of all processes."""
    log(
        f"epoch {row['epoch']}/{num_epochs}: train loss {row['train_loss']:.4f}, "
        f"val loss {row['val_loss']:.4f}, val accuracy {row['val_accuracy']:.4f} "
        f"({row['seconds']:.2f} s)"
    )


def say_hello(device: torch.device) -> None:
    """One line from every process: its rank, attempt, backend, device and threads."""
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) + 1
    log(
        f"process {dist.get_rank()} of {dist.get_world_size()} "
        f"(attempt {attempt}): {dist.get_backend()} on {device}, "
        f"{torch.get_num_threads()} thread(s)",
        every_rank=True,
    )


def batches_for_epoch(
    dataloader: DataLoader, epoch: int, fail_at_step: int | None
) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
    """The batches of ``epoch``. With ``fail_at_step``, on the first attempt, the
    process of the highest rank kills itself at that step (counted from 1 over all
    epochs) instead of taking it, as a process that crashes would."""
    first = (epoch - 1) * len(dataloader) + 1
    restarted = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) > 0
    victim = dist.get_rank() == dist.get_world_size() - 1
    if fail_at_step is None or restarted or not victim:
        return dataloader
    if not first <= fail_at_step < first + len(dataloader):
        return dataloader
    return _crash_after(dataloader, fail_at_step - first, fail_at_step)


def _crash_after(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]], count: int, step: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    yield from itertools.islice(batches, count)
    log(f"killing myself at step {step} (--fail-at-step)", every_rank=True)
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    time.sleep(60)  # the signal arrives while we wait


def time_all_reduce(model: nn.Module, device: torch.device, repeats: int = 20) -> float:
    """Milliseconds one all-reduce of as many floats as the model has parameters
    takes (what DDP sends per step), the mean of ``repeats`` after a warm-up."""
    numel = sum(p.numel() for p in model.parameters())
    buffer = torch.zeros(numel, device=device)
    dist.all_reduce(buffer)  # warm-up
    dist.barrier()
    start = time.perf_counter()
    for _ in range(repeats):
        dist.all_reduce(buffer)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return (time.perf_counter() - start) / repeats * 1000


def write_result(
    args: argparse.Namespace, history: list[dict[str, float]], all_reduce_ms: float
) -> None:
    """``args.out/result.json``: the run's setup, history and all-reduce time, written
    atomically (a reader never sees half a file)."""
    result = {
        "world_size": dist.get_world_size(),
        "backend": dist.get_backend(),
        "threads": torch.get_num_threads(),
        "batch_size": args.batch_size,
        "attempt": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) + 1,
        "all_reduce_ms": all_reduce_ms,
        "history": history,
    }
    path = Path(args.out) / "result.json"
    tmp = temporary_path(path)
    try:
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_data(args: argparse.Namespace) -> tuple[TensorDataset, TensorDataset]:
    """The training subset and the validation split: FashionMNIST as in chapter 05,
    or random images with labels an MLP can learn (``--dataset synthetic``)."""
    if args.dataset == "synthetic":
        n_train = args.train_subset or 2_000
        g = torch.Generator().manual_seed(args.seed)
        X = torch.randn(n_train + 1_000, 1, 28, 28, generator=g)
        y = (X.flatten(1) @ torch.randn(784, 10, generator=g)).argmax(dim=1)
        return TensorDataset(X[:n_train], y[:n_train]), TensorDataset(
            X[n_train:], y[n_train:]
        )
    from torchprimer.fashion_mnist import fashion_mnist_tensors  # torchvision

    splits = fashion_mnist_tensors(args.data_root, args.seed)
    X, y = splits["train"].tensors
    n_train = args.train_subset or len(y)
    if n_train > len(y):
        raise ValueError(
            f"--train-subset={n_train}, but there are {len(y)} training images: "
            f"give at most {len(y)}, or leave it out to use them all"
        )
    return TensorDataset(X[:n_train], y[:n_train]), splits["val"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not 1 or more")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The script's options; ``--help`` lists them."""
    parser = argparse.ArgumentParser(
        prog="ddp_train.py",
        usage="torchrun [torchrun options] ddp_train.py --out OUT [...]",
        description="Train chapter 05's MLP with DistributedDataParallel.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=88),
    )
    option = parser.add_argument
    option("--out", required=True, help="folder for checkpoints and results")
    option(
        "--data-root",
        type=Path,
        default=repository_path("data"),
        help="FashionMNIST's root folder (default: the repository's data/)",
    )
    option("--dataset", choices=["fashion_mnist", "synthetic"], default="fashion_mnist")
    option("--train-subset", type=_positive_int, help="training images (default: all)")
    option("--batch-size", type=_positive_int, default=64, help="images per process")
    option("--num-epochs", type=_positive_int, default=3)
    option("--lr", type=float, default=4e-3, help="peak of the one-cycle schedule")
    option("--seed", type=int, default=0, help="weights, shuffling, data split")
    option("--device", choices=["cpu", "cuda"], default="cpu", help="cuda: with NCCL")
    option(
        "--fail-at-step",
        type=_positive_int,
        help="kill the highest rank at this step (counted from 1), unless restarted",
    )
    return parser.parse_args(argv)
