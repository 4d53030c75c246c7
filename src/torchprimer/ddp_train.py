"""Data-parallel training with ``DistributedDataParallel``, started by torchrun.

Taught in notebook 09 (distributed training with torchrun). The functions in
``__all__`` are shown in full in that notebook (``tests/unit/test_ddp.py`` checks that
the notebook and this module hold the same code); the helpers whose names start with
``_`` are infrastructure. Nothing runs on import.

torchrun starts ``--nproc-per-node`` processes and tells each its rank in environment
variables; every process then runs :func:`run_worker`::

    torchrun --standalone --nproc-per-node=2 -m torchprimer.ddp_train --out DIR

Each process trains chapter 05's MLP on its own shard of every epoch, and DDP averages
the gradients of all processes in every backward pass. Rank 0 saves ``DIR/last.pt``
after every epoch (chapter 08's atomic checkpoint); a run started again, by hand or by
``torchrun --max-restarts``, resumes from it. At the end rank 0 writes
``DIR/final.pt`` (the weights) and ``DIR/result.json`` (history and timings).
``python -m torchprimer.ddp_train --help`` lists the options.
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
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from torchprimer.checkpoints import atomic_save, load_checkpoint, save_checkpoint
from torchprimer.engine import evaluate, train_one_epoch
from torchprimer.loaders import TensorLoader
from torchprimer.models import MLP

__all__ = [
    "check_restartable",
    "init_distributed",
    "build_training",
    "average_across_processes",
    "train_ddp",
    "run_worker",
]


def check_restartable() -> None:
    """Raise ``RuntimeError`` if torchrun may restart this process group
    (``--max-restarts``) while the processes share torchrun's rendezvous store.

    Restarted processes would find the addresses their peers published before the
    restart still in that store, and fail to connect to them. With
    ``TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1`` every attempt gets a store of its own.

    Taught in notebook 09 (distributed training with torchrun).
    """
    restarts = int(os.environ.get("TORCHELASTIC_MAX_RESTARTS", "0"))
    if restarts and os.environ.get("TORCH_DISABLE_SHARE_RDZV_TCP_STORE") != "1":
        raise RuntimeError(
            f"torchrun --max-restarts={restarts} needs "
            "TORCH_DISABLE_SHARE_RDZV_TCP_STORE=1 in torchrun's environment; without "
            "it a restarted process group can fail with 'Connection refused'"
        )


def init_distributed(device_type: str) -> torch.device:
    """Join the process group that torchrun describes in environment variables
    (``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``) and return this
    process's device: with CUDA one GPU per process and NCCL, else the CPU and Gloo.

    Taught in notebook 09 (distributed training with torchrun).
    """
    if "LOCAL_RANK" not in os.environ:
        raise RuntimeError(
            "LOCAL_RANK is not set: start this script with torchrun, e.g. torchrun "
            "--standalone --nproc-per-node=2 -m torchprimer.ddp_train --out DIR"
        )
    check_restartable()
    if device_type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)  # this process's own GPU
        dist.init_process_group("nccl", device_id=device)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")
    return device


def build_training(
    args: argparse.Namespace, device: torch.device
) -> tuple[DDP, torch.optim.Optimizer, Any, DataLoader, TensorLoader]:
    """Model, optimizer, one-cycle schedule and loaders, as in chapter 08, for this
    process: the model wrapped in DDP, the training images split by a
    DistributedSampler, the validation images split by striding.

    Taught in notebook 09 (distributed training with torchrun).
    """
    rank, world_size = dist.get_rank(), dist.get_world_size()
    train_data, val_data = _load_data(args)
    torch.manual_seed(args.seed)  # the same initial weights in every process
    model = MLP().to(device)
    model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    # every process shuffles with the same seed, then takes every world_size-th index
    sampler = DistributedSampler(train_data, shuffle=True, seed=args.seed)
    train_dataloader = DataLoader(
        train_data, batch_size=args.batch_size, sampler=sampler
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=args.lr, total_steps=args.num_epochs * len(train_dataloader)
    )
    X_val, y_val = (tensor[rank::world_size] for tensor in val_data.tensors)
    val_dataloader = TensorLoader(X_val, y_val, batch_size=1000)  # each image once
    return model, optimizer, scheduler, train_dataloader, val_dataloader


def average_across_processes(
    metrics: dict[str, float], count: int, device: torch.device
) -> dict[str, float]:
    """The mean of ``metrics`` over the samples of all processes, each process's
    values weighted by its ``count`` of samples. Every process must call it.

    Taught in notebook 09 (distributed training with torchrun).
    """
    values = [count] + [value * count for value in metrics.values()]
    totals = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(totals)  # the sum over all processes, on every process
    return {key: (total / totals[0]).item() for key, total in zip(metrics, totals[1:])}


def train_ddp(args: argparse.Namespace, device: torch.device) -> tuple[DDP, list[dict]]:
    """Train to epoch ``args.num_epochs``, resuming from ``args.out/last.pt`` if it
    exists; rank 0 saves that checkpoint after every epoch.

    Taught in notebook 09 (distributed training with torchrun).
    """
    model, optimizer, scheduler, train_dataloader, val_dataloader = build_training(
        args, device
    )
    loss_fn, last, history = nn.CrossEntropyLoss(), Path(args.out) / "last.pt", []
    if last.exists():  # every process loads the checkpoint that rank 0 saved
        history = load_checkpoint(last, model.module, optimizer, scheduler)["history"]
        _log(f"resuming from {last.name}, saved after epoch {len(history)}")
    for epoch in range(len(history) + 1, args.num_epochs + 1):
        train_dataloader.sampler.set_epoch(epoch)  # a new shuffle every epoch
        batches = _batches(train_dataloader, epoch, args.fail_at_step)  # see --help
        start = time.perf_counter()
        train = train_one_epoch(model, batches, loss_fn, optimizer, device, scheduler)
        seconds = time.perf_counter() - start
        val = evaluate(model.module, val_dataloader, loss_fn, device)  # no gradients
        train = average_across_processes(train, len(train_dataloader.sampler), device)
        val = average_across_processes(val, len(val_dataloader.y), device)
        history.append(_row(epoch, train, val, seconds))
        _log_epoch(history[-1], args.num_epochs)
        if dist.get_rank() == 0:  # one process writes, the others wait for it
            save_checkpoint(
                last, model.module, optimizer, scheduler, epoch, None, history
            )
        dist.barrier()
    return model, history


def run_worker(argv: Sequence[str] | None = None) -> None:
    """What every process that torchrun starts runs: join the process group, train,
    and let rank 0 write the final weights and results; leave the group in any case.

    Taught in notebook 09 (distributed training with torchrun).
    """
    args = _parse_args(argv)
    device = init_distributed(args.device)
    try:
        _say_hello(device)
        model, history = train_ddp(args, device)
        all_reduce_ms = _time_all_reduce(model, device)  # one gradient's worth
        if dist.get_rank() == 0:
            atomic_save(model.module.state_dict(), Path(args.out) / "final.pt")
            _write_result(args, history, all_reduce_ms)
        dist.barrier()  # no process leaves before the files are written
    finally:
        dist.destroy_process_group()


# ---------------------------------------------------------------- infrastructure


def _log(message: str, every_rank: bool = False) -> None:
    """Print ``[rank N] message`` from rank 0 (or from every rank), at once, in one
    write: the processes share one output, and a line printed in pieces (``print``
    writes the text and the newline separately) can be cut by another's."""
    rank = dist.get_rank()
    if every_rank or rank == 0:
        sys.stdout.write(f"[rank {rank}] {message}\n")
        sys.stdout.flush()


def _row(
    epoch: int, train: dict[str, float], val: dict[str, float], seconds: float
) -> dict[str, float]:
    """One epoch of history: train_loss, train_accuracy, val_loss, val_accuracy and
    the seconds the training pass took in this process."""
    row = {"epoch": epoch} | {f"train_{k}": v for k, v in train.items()}
    return row | {f"val_{k}": v for k, v in val.items()} | {"seconds": seconds}


def _log_epoch(row: dict[str, float], num_epochs: int) -> None:
    _log(
        f"epoch {row['epoch']}/{num_epochs}: train loss {row['train_loss']:.4f}, "
        f"val loss {row['val_loss']:.4f}, val accuracy {row['val_accuracy']:.4f} "
        f"({row['seconds']:.2f} s)"
    )


def _say_hello(device: torch.device) -> None:
    attempt = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")) + 1
    _log(
        f"process {dist.get_rank()} of {dist.get_world_size()} "
        f"(attempt {attempt}): {dist.get_backend()} on {device}, "
        f"{torch.get_num_threads()} thread(s)",
        every_rank=True,
    )


def _batches(
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
    _log(f"killing myself at step {step} (--fail-at-step)", every_rank=True)
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))
    time.sleep(60)  # the signal arrives while we wait


def _time_all_reduce(
    model: nn.Module, device: torch.device, repeats: int = 20
) -> float:
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


def _write_result(
    args: argparse.Namespace, history: list[dict[str, float]], all_reduce_ms: float
) -> None:
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
    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


def _load_data(args: argparse.Namespace) -> tuple[TensorDataset, TensorDataset]:
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
    from torchprimer.data import fashion_mnist_tensors  # imports torchvision

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


def _parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="torchprimer.ddp_train",
        usage="torchrun [torchrun options] -m torchprimer.ddp_train --out OUT [...]",
        description="Train chapter 05's MLP with DistributedDataParallel.",
        formatter_class=lambda prog: argparse.HelpFormatter(prog, width=88),
    )
    option = parser.add_argument
    option("--out", required=True, help="folder for checkpoints and results")
    option("--data-root", default="data", help="FashionMNIST's root folder")
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


if __name__ == "__main__":
    run_worker(sys.argv[1:])
