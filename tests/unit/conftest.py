"""Fixtures shared by the unit tests: a small learnable problem and a seeded run."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from torchprimer.loaders import TensorLoader

Problem = Callable[..., tuple[torch.Tensor, torch.Tensor]]


@pytest.fixture
def small_problem() -> Problem:
    """``small_problem(n=192, seed=0, shape=(20,), classes=3)``: ``n`` random inputs of
    ``shape`` whose class is the argmax of a fixed linear map of the input, so that a
    model can learn it."""

    def make(n: int = 192, seed: int = 0, shape=(20,), classes: int = 3):
        g = torch.Generator().manual_seed(seed)
        X = torch.randn(n, *shape, generator=g)
        W = torch.randn(X[0].numel(), classes, generator=g)
        return X, (X.flatten(1) @ W).argmax(dim=1)

    return make


@pytest.fixture
def make_run(small_problem: Problem) -> Callable[..., tuple]:
    """``make_run(seed=0, num_epochs=4, batch_size=32, lr=1e-2, dataloader=False)``:
    a model with dropout (so the global random state matters), AdamW, a per-step
    OneCycleLR, shuffling training and plain validation batches of ``small_problem``,
    and the shuffling generator, all seeded. The batches come from ``TensorLoader``,
    or with ``dataloader=True`` from ``DataLoader``."""

    def make(seed=0, num_epochs=4, batch_size=32, lr=1e-2, dataloader=False):
        torch.manual_seed(seed)
        model = nn.Sequential(
            nn.Linear(20, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 3)
        )
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        X, y = small_problem()
        generator = torch.Generator().manual_seed(seed)
        if dataloader:
            data = TensorDataset(X, y)
            train = DataLoader(data, batch_size, shuffle=True, generator=generator)
            val = DataLoader(TensorDataset(X[:64], y[:64]), batch_size=50)
        else:
            train = TensorLoader(X, y, batch_size, shuffle=True, generator=generator)
            val = TensorLoader(X[:64], y[:64], batch_size=50)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=lr, total_steps=num_epochs * len(train)
        )
        return model, optimizer, scheduler, train, val, generator

    return make
