"""Training engine: the train/evaluate loop.

Taught in notebook 05 (training). Every function here is shown in full in that notebook
(`tests/unit/test_engine.py` checks that the notebook's cells and this module hold the
same code); later notebooks import them from here. Nothing runs on import.

Each function takes any iterable of ``(X, y)`` batches: a ``DataLoader``, or anything
else that yields pairs of tensors.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn
from tqdm.auto import tqdm  # a live widget in JupyterLab, text elsewhere

__all__ = ["train_one_epoch", "evaluate", "predict", "fit"]


def train_one_epoch(
    model: nn.Module,
    dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
) -> dict[str, float]:
    """One pass over ``dataloader``: one optimizer step (and ``scheduler`` step) per
    batch. Returns the mean loss and accuracy over the samples, measured while training.

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
    model: nn.Module,
    dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    device: torch.device,
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
def predict(
    model: nn.Module,
    dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
) -> torch.Tensor:
    """The predicted class of every sample in ``dataloader``, in order, on the CPU.

    Taught in notebook 05 (training).
    """
    model.eval()
    return torch.cat([model(X.to(device)).argmax(dim=1).cpu() for X, _ in dataloader])


def fit(
    model: nn.Module,
    train_dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: nn.Module,
    optimizer: torch.optim.Optimizer,
    device: torch.device,
    num_epochs: int,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    start_epoch: int = 0,
    history: list[dict[str, float]] | None = None,
    progress: bool = True,
) -> list[dict[str, float]]:
    """Train epochs ``start_epoch`` + 1 to ``num_epochs``, validating after each one;
    returns ``history`` plus one row of metrics per new epoch.

    Taught in notebook 05 (training)."""
    history = list(history or [])
    bar = tqdm(range(start_epoch, num_epochs), "epochs", disable=not progress)
    for epoch in bar:
        train = train_one_epoch(
            model, train_dataloader, loss_fn, optimizer, device, scheduler
        )
        val = evaluate(model, val_dataloader, loss_fn, device)
        row = {"epoch": epoch + 1}
        row |= {f"train_{name}": value for name, value in train.items()}
        row |= {f"val_{name}": value for name, value in val.items()}
        history.append(row)
        bar.set_postfix(train_loss=train["loss"], val_acc=val["accuracy"])
    return history
