"""Seeding helpers for reproducible runs.

Hand-written: chapter 01 teaches ``torch.manual_seed`` and chapter 02 DataLoader
generators and ``seed_worker``; the chapters import these shortcuts. Nothing here runs
on import.
"""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything", "seed_worker", "make_generator"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds all CUDA devices


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, for ``random_split`` and
    DataLoader shuffling."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def seed_worker(worker_id: int) -> None:
    """``worker_init_fn`` for DataLoader: re-seed ``random`` and NumPy from torch's
    per-worker seed.

    Since torch 1.9 each worker process already seeds ``random``, NumPy and torch
    itself, from the DataLoader's base seed (drawn from its ``generator=``) and
    ``worker_id``. This function re-seeds ``random`` and NumPy from the worker's torch
    seed instead, so runs stay reproducible either way. It is the pattern from PyTorch's
    reproducibility notes, and the place to seed any other library with its own random
    state that your dataset uses.
    """
    worker_seed = torch.initial_seed() % 2**32
    np.random.seed(worker_seed)
    random.seed(worker_seed)
