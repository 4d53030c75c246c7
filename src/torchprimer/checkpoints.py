"""Checkpoints that resume training exactly: written atomically, checked when loaded.

Taught in notebook 08 (checkpoints and resuming). Every function and class here is shown
in full in that notebook (``tests/unit/test_checkpoints.py`` checks that the notebook
and this module hold the same code); later notebooks import them from here. Nothing runs
on import.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from torchprimer._files import remove_stale_temporaries, temporary_path
from torchprimer.engine import evaluate, train_one_epoch

__all__ = [
    "CheckpointError",
    "capture_rng_state",
    "restore_rng_state",
    "atomic_save",
    "save_checkpoint",
    "read_checkpoint",
    "check_compatible",
    "load_checkpoint",
    "check_steps_left",
    "epochs_since_best",
    "train_with_checkpoints",
]


class CheckpointError(RuntimeError):
    """A file that cannot resume this training run; the message says what to do.

    Taught in notebook 08 (checkpoints and resuming).
    """


def capture_rng_state(generator: torch.Generator | None = None) -> dict[str, Any]:
    """Every random state a run depends on: Python, NumPy, torch CPU and CUDA, and
    ``generator`` (a DataLoader's shuffling generator, say).

    Plain lists and tensors only, so that ``torch.load(..., weights_only=True)`` reads
    it back.

    Taught in notebook 08 (checkpoints and resuming).
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

    Taught in notebook 08 (checkpoints and resuming).
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


def atomic_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save(obj, path)``, except that ``path`` is never left half-written.

    The bytes go to a hidden temporary file in the same folder, which replaces ``path``
    only once it is complete. Temporaries that a killed save of ``path`` left behind
    are deleted first.

    Taught in notebook 08 (checkpoints and resuming).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path.parent, path.name)  # left by a killed save
    tmp = temporary_path(path)  # .<name>.<process id>.<random>.tmp, beside path
    try:
        with open(tmp, "xb") as f:  # a new file; its permissions follow the umask
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())  # on the disk before it takes the real name
        os.replace(tmp, path)  # atomic: path is the old file or the new one
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    epoch: int,
    generator: torch.Generator | None = None,
    history: list[dict[str, float]] | None = None,
) -> Path:
    """Save everything needed to resume training after ``epoch`` epochs, atomically.

    Taught in notebook 08 (checkpoints and resuming).
    """
    checkpoint = {
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,  # checked when loading
        "scheduler": None,
        "scheduler_class": None,
        "rng": capture_rng_state(generator),
        "history": list(history or []),
    }
    if scheduler is not None:
        checkpoint["scheduler"] = scheduler.state_dict()
        checkpoint["scheduler_class"] = type(scheduler).__name__
    return atomic_save(checkpoint, path)


def read_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """``torch.load(path, weights_only=True)`` for a file :func:`save_checkpoint` wrote;
    any other file raises :class:`CheckpointError`, saying what it is and what to do.

    Taught in notebook 08 (checkpoints and resuming).
    """
    again = "Resume from another checkpoint, or train from the start."
    if os.path.getsize(path) == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): no save finished. {again}")
    try:
        checkpoint = torch.load(path, weights_only=True, map_location=map_location)
    except Exception as err:  # torch reports a damaged file in many different ways
        said = f"{type(err).__name__}: {err}".splitlines()[0].partition(". ")[0]
        raise CheckpointError(
            f"{path} cannot be loaded ({said}); it is damaged or was not written by "
            f"torch.save. {again}"
        ) from err
    keys = {"epoch", "model", "optimizer", "scheduler", "rng", "history"}
    if isinstance(checkpoint, dict) and checkpoint.keys() >= keys:
        return checkpoint
    if isinstance(checkpoint, dict) and all(
        isinstance(value, torch.Tensor) for value in checkpoint.values()
    ):
        raise CheckpointError(
            f"{path} holds only weights (a state_dict), not a training checkpoint: "
            f"use it with model.load_state_dict(torch.load(path, weights_only=True))"
        )
    raise CheckpointError(f"{path} was not written by save_checkpoint. {again}")


def check_compatible(
    checkpoint: dict[str, Any],
    path: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
) -> None:
    """Raise :class:`CheckpointError` unless ``checkpoint`` can resume training with
    this ``optimizer`` and ``scheduler``.

    Taught in notebook 08 (checkpoints and resuming).
    """
    for kind, obj in [("optimizer", optimizer), ("scheduler", scheduler)]:
        saved = checkpoint.get(f"{kind}_class")
        if obj is not None and saved is not None and saved != type(obj).__name__:
            raise CheckpointError(
                f"{path} was saved with the {kind} {saved}, but the {kind} you passed "
                f"is {type(obj).__name__}: create {saved}(...) as the saved run did"
            )
    saved_steps = (checkpoint["scheduler"] or {}).get("total_steps")
    steps = getattr(scheduler, "total_steps", None)
    if scheduler is not None and saved_steps is not None and saved_steps != steps:
        raise CheckpointError(
            f"{path} holds a schedule of total_steps={saved_steps}, but yours has "
            f"{steps}; loading would silently put {saved_steps} back. To finish the "
            "saved run, create the scheduler for the saved number of epochs; to train "
            "longer, load with scheduler=None and then create a new scheduler"
        )


def load_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    generator: torch.Generator | None = None,
    map_location: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Put back everything :func:`save_checkpoint` saved, and return the checkpoint.

    ``weights_only=True`` runs no code from the file; ``map_location`` lets a checkpoint
    saved on a GPU load on a CPU. A file that is no checkpoint, or one saved with
    another optimizer or schedule, is refused before anything is loaded.

    Taught in notebook 08 (checkpoints and resuming).
    """
    checkpoint = read_checkpoint(path, map_location)  # a checkpoint, or an error
    check_compatible(checkpoint, path, optimizer, scheduler)  # or an error
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if scheduler is not None and checkpoint["scheduler"] is not None:
        scheduler.load_state_dict(checkpoint["scheduler"])
    restore_rng_state(checkpoint["rng"], generator)
    return checkpoint


def check_steps_left(
    scheduler: torch.optim.lr_scheduler.LRScheduler | None, num_steps: int
) -> None:
    """Raise ``ValueError`` now if ``scheduler`` has a fixed length (OneCycleLR's
    ``total_steps``) with fewer than ``num_steps`` steps left, rather than part-way
    through an epoch.

    Taught in notebook 08 (checkpoints and resuming).
    """
    total = getattr(scheduler, "total_steps", None)
    if total is None:
        return
    left = total - scheduler.last_epoch
    if num_steps > left:
        raise ValueError(
            f"training needs {num_steps} more scheduler steps, but this "
            f"{type(scheduler).__name__} has {left} left of its total_steps={total}. "
            "Train for the number of epochs it was created for, or give extra "
            "epochs a new scheduler"
        )


def epochs_since_best(
    history: list[dict[str, float]], key: str = "val_accuracy"
) -> int:
    """How many epochs ago ``key`` reached its highest value: 0 if the last epoch did.

    A tie is not an improvement: the first epoch with the best value counts.

    Taught in notebook 08 (checkpoints and resuming).
    """
    if not history:
        raise ValueError("history is empty: train at least one epoch first")
    values = [row[key] for row in history]
    return len(values) - 1 - values.index(max(values))


def train_with_checkpoints(
    model: nn.Module,
    train_dataloader: Any,
    val_dataloader: Any,
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    device: torch.device,
    num_epochs: int,
    folder: str | os.PathLike[str],
    patience: int | None = None,
    history: list[dict[str, float]] | None = None,
) -> list[dict[str, float]]:
    """Train to epoch ``num_epochs``. ``folder/last.pt`` resumes the run, ``best.pt``
    holds the weights of the best validation accuracy; stop after ``patience`` without.
    Taught in notebook 08 (checkpoints and resuming).
    """
    history, last = list(history or []), Path(folder) / "last.pt"
    check_steps_left(scheduler, (num_epochs - len(history)) * len(train_dataloader))
    for epoch in range(len(history) + 1, num_epochs + 1):
        if patience is not None and history and epochs_since_best(history) >= patience:
            break
        train_one_epoch(model, train_dataloader, loss_fn, optimizer, device, scheduler)
        val_accuracy = evaluate(model, val_dataloader, loss_fn, device)["accuracy"]
        history.append({"epoch": epoch, "val_accuracy": val_accuracy})
        generator = train_dataloader.generator  # the state of the next shuffle
        save_checkpoint(last, model, optimizer, scheduler, epoch, generator, history)
        if epochs_since_best(history) == 0:
            atomic_save(model.state_dict(), Path(folder) / "best.pt")
    return history
