"""Training engine: an in-memory batch loader, the train/evaluate loop, checkpoints
that resume exactly.

Taught in notebook 05 (training). Every function here is shown in full in that notebook
(`tests/unit/test_engine.py` checks that the notebook's cells and this module hold the
same code); later notebooks import them from here. Nothing runs on import.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

__all__ = [
    "TensorLoader",
    "train_one_epoch",
    "evaluate",
    "predict",
    "fit",
    "capture_rng_state",
    "restore_rng_state",
    "save_checkpoint",
    "load_checkpoint",
    "export_metrics",
]


class TensorLoader:
    """Mini-batches of (X, y) from tensors already in memory: a tiny stand-in for
    DataLoader.

    Each pass draws a fresh permutation from ``generator`` (when ``shuffle``), so a
    seeded generator gives the same batches every run, and saving its state lets a run
    resume exactly.

    Taught in notebook 05 (training).
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}")
        self.X, self.y = X, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        """The number of batches per pass (the last one may be smaller)."""
        return (len(self.y) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.y)
        order = (
            torch.randperm(n, generator=self.generator)
            if self.shuffle
            else torch.arange(n)
        )
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size].to(self.X.device)
            # index_select copies whole rows; much faster than X[idx] for
            # (N, 1, 28, 28) tensors
            yield self.X.index_select(0, idx), self.y.index_select(0, idx)


def train_one_epoch(
    model: nn.Module,
    dataloader: Any,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, float]:
    """One pass over ``dataloader``, one optimizer step per batch.

    ``scheduler``, if given, is stepped after every batch (per-step schedules such as
    OneCycleLR). Returns the mean training loss and accuracy over the samples seen,
    measured while the weights were still changing.

    Taught in notebook 05 (training).
    """
    model.train()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for X, y in dataloader:
        X, y = X.to(device), y.to(device)
        optimizer.zero_grad()  # clear the gradients of the previous step
        logits = model(X)
        loss = loss_fn(logits, y)
        loss.backward()  # fill .grad of every parameter
        optimizer.step()  # update the parameters with those gradients
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
    return {"loss": loss_sum.item() / seen, "accuracy": correct.item() / seen}


@torch.no_grad()
def evaluate(
    model: nn.Module, dataloader: Any, loss_fn: nn.Module, device: torch.device
) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` over every sample in ``dataloader``; no
    weights change.

    Taught in notebook 05 (training).
    """
    model.eval()
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), dtype=torch.long, device=device)
    seen = 0
    for X, y in dataloader:
        X, y = X.to(device), y.to(device)
        logits = model(X)
        loss_sum += loss_fn(logits, y) * len(y)
        correct += (logits.argmax(dim=1) == y).sum()
        seen += len(y)
    return {"loss": loss_sum.item() / seen, "accuracy": correct.item() / seen}


@torch.no_grad()
def predict(model: nn.Module, dataloader: Any, device: torch.device) -> torch.Tensor:
    """The predicted class of every sample in ``dataloader``, in order, on the CPU.

    Taught in notebook 05 (training).
    """
    model.eval()
    return torch.cat([model(X.to(device)).argmax(dim=1).cpu() for X, _ in dataloader])


def fit(
    model: nn.Module,
    train_dataloader: Any,
    val_dataloader: Any,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    num_epochs: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    start_epoch: int = 0,
    history: list[dict[str, float]] | None = None,
    progress: bool = True,
    on_epoch_end: Callable[[int, list[dict[str, float]]], None] | None = None,
) -> list[dict[str, float]]:
    """Train from ``start_epoch`` up to ``num_epochs``, validating after each epoch.

    Returns the history: one row per epoch with training and validation loss and
    accuracy. ``on_epoch_end(epoch, history)``, if given, runs after each epoch (e.g. to
    save a checkpoint).

    Taught in notebook 05 (training).
    """
    history = list(history or [])
    bar = tqdm(
        range(start_epoch, num_epochs),
        desc="epochs",
        unit="epoch",
        initial=start_epoch,
        total=num_epochs,
        disable=not progress,
    )
    for epoch in bar:
        train_metrics = train_one_epoch(
            model, train_dataloader, loss_fn, optimizer, device, scheduler
        )
        val_metrics = evaluate(model, val_dataloader, loss_fn, device)
        history.append(
            {
                "epoch": epoch + 1,
                "train_loss": train_metrics["loss"],
                "train_accuracy": train_metrics["accuracy"],
                "val_loss": val_metrics["loss"],
                "val_accuracy": val_metrics["accuracy"],
            }
        )
        bar.set_postfix(
            train_loss=f"{train_metrics['loss']:.3f}",
            val_acc=f"{val_metrics['accuracy']:.3f}",
        )
        if on_epoch_end is not None:
            on_epoch_end(epoch + 1, history)
    return history


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a run depends on: Python, NumPy, torch CPU and CUDA, and
    ``generator``.

    Plain lists and tensors only, so that ``torch.load(..., weights_only=True)`` accepts
    it.

    Taught in notebook 05 (training).
    """
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generator": generator.get_state() if generator is not None else None,
    }


def restore_rng_state(
    state: dict[str, Any], generator: torch.Generator | None = None
) -> None:
    """Put back the random states that :func:`capture_rng_state` returned.

    Taught in notebook 05 (training).
    """
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])
    if generator is not None and state["generator"] is not None:
        generator.set_state(state["generator"].cpu())


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    epoch: int,
    generator: torch.Generator | None = None,
    history: list[dict[str, float]] | None = None,
) -> Path:
    """Write everything needed to resume training, atomically.

    The checkpoint goes to a temporary file in the same folder first and is renamed
    over ``path`` with ``os.replace`` only once it is complete, so a crash mid-save
    leaves the previous checkpoint intact rather than a truncated file.

    Taught in notebook 05 (training).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "rng": capture_rng_state(generator),
        "history": list(history or []),
    }
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(checkpoint, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(
            tmp_name, path
        )  # an atomic rename on POSIX; both names on one file system
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
    return path


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    generator: torch.Generator | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Restore model, optimizer, scheduler and random states saved by
    :func:`save_checkpoint`.

    Loads with ``weights_only=True`` (no arbitrary code runs) and ``map_location`` (a
    checkpoint written on a GPU loads on a CPU-only machine). Returns the checkpoint
    dict; ``checkpoint["epoch"]`` is the number of epochs already done.

    Taught in notebook 05 (training).
    """
    checkpoint = torch.load(path, weights_only=True, map_location=map_location)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint["scheduler"] is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    restore_rng_state(checkpoint["rng"], generator)
    return checkpoint


def export_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Show ``metrics`` as an ``application/json`` output that tests and tools can read
    back.

    Returns the metrics unchanged.

    Taught in notebook 05 (training).
    """
    from IPython.display import display

    display(
        {"application/json": metrics, "text/plain": json.dumps(metrics, indent=1)},
        raw=True,
    )
    return metrics
