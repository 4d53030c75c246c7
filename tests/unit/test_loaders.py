"""Tests for torchprimer.loaders on small fabricated tensors (no dataset needed)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from torchprimer.loaders import TensorLoader


def test_tensor_loader_covers_every_sample_once_per_pass():
    X = torch.arange(10).float().unsqueeze(1)
    y = torch.arange(10)
    loader = TensorLoader(
        X, y, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batches = list(loader)
    assert len(loader) == len(batches) == 3
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    seen = torch.cat([b[1] for b in batches])
    assert sorted(seen.tolist()) == list(range(10))
    assert seen.tolist() != list(range(10)), "shuffle=True should change the order"
    for Xb, yb in batches:  # rows stay paired with their labels
        assert torch.equal(Xb.squeeze(1).long(), yb)


def test_tensor_loader_is_reproducible_and_reshuffles_each_pass(small_problem):
    X, y = small_problem(50, shape=(1, 4, 4))
    a = TensorLoader(X, y, 8, shuffle=True, generator=torch.Generator().manual_seed(3))
    b = TensorLoader(X, y, 8, shuffle=True, generator=torch.Generator().manual_seed(3))
    first_a, first_b = torch.cat([yb for _, yb in a]), torch.cat([yb for _, yb in b])
    assert torch.equal(first_a, first_b)
    idx_pass1 = torch.cat([Xb.flatten(1)[:, 0] for Xb, _ in a])
    idx_pass2 = torch.cat([Xb.flatten(1)[:, 0] for Xb, _ in a])
    assert not torch.equal(idx_pass1, idx_pass2)


def test_tensor_loader_without_shuffle_keeps_order_and_checks_its_input(small_problem):
    X, y = small_problem(10, shape=(1, 4, 4))
    assert torch.equal(torch.cat([yb for _, yb in TensorLoader(X, y, 3)]), y)
    with pytest.raises(ValueError, match="X has 10 rows but y has 5"):
        TensorLoader(X, y[:5], 3)
    with pytest.raises(ValueError, match="batch_size is 0; it must be 1 or more"):
        TensorLoader(X, y, 0)


def test_tensor_loader_gives_the_same_batches_as_a_dataloader(small_problem):
    """Unshuffled, the in-memory loader and DataLoader(TensorDataset) agree exactly."""
    X, y = small_problem(50, shape=(1, 4, 4))
    ours = list(TensorLoader(X, y, batch_size=16))
    theirs = list(DataLoader(TensorDataset(X, y), batch_size=16))
    assert len(ours) == len(theirs) == 4
    for (Xa, ya), (Xb, yb) in zip(ours, theirs):
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
        assert Xa.shape == Xb.shape and Xa.dtype == Xb.dtype


def test_tensor_loader_has_a_dataloader_like_generator_attribute(small_problem):
    """Checkpoints save ``loader.generator``'s state; TensorLoader keeps it there."""
    generator = torch.Generator().manual_seed(0)
    X, y = small_problem(20, shape=(1, 4, 4))
    loader = TensorLoader(X, y, 4, shuffle=True, generator=generator)
    assert loader.generator is generator
    state = generator.get_state()
    first = torch.cat([yb for _, yb in loader])
    generator.set_state(state)
    assert torch.equal(torch.cat([yb for _, yb in loader]), first)
