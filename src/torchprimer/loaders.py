"""Mini-batches from tensors already in memory: a fast stand-in for ``DataLoader``.

Taught in notebook 07 (faster training). ``TensorLoader`` is shown in full in that
notebook (``tests/unit/test_loaders.py`` checks that the notebook and this module hold
the same code); later notebooks import it from here. Nothing runs on import.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

__all__ = ["TensorLoader"]


class TensorLoader:
    """Mini-batches ``(X, y)`` from tensors in memory: one ``index_select`` per batch.

    Taught in notebook 07 (faster training).
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
            raise ValueError(f"X has {len(X)} rows but y has {len(y)}: one label a row")
        if batch_size < 1:
            raise ValueError(f"batch_size is {batch_size}; it must be 1 or more")
        self.X, self.y, self.batch_size = X, y, batch_size
        self.shuffle, self.generator = shuffle, generator

    def __len__(self) -> int:  # batches per pass; the last one may be smaller
        return math.ceil(len(self.y) / self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, g = len(self.y), self.generator
        order = torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)
        for start in range(0, n, self.batch_size):
            idx = order[start : start + self.batch_size].to(self.X.device)
            yield self.X.index_select(0, idx), self.y.index_select(0, idx)
