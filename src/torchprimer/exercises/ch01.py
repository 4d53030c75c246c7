"""Checks for the exercises of chapter 01
(notebooks/exercises/01_tensors_*.ipynb)."""

from __future__ import annotations

import itertools
from typing import Any

import torch

from torchprimer.exercises import Answers, NotYet, Registry

registry = Registry("01")
check = registry.check


def _dtype(value: Any, name: str) -> torch.dtype:
    """A learner's dtype answer: ``torch.int16``, or the text ``"int16"``."""
    if isinstance(value, torch.dtype):
        return value
    if isinstance(value, str):
        found = getattr(torch, value.strip().removeprefix("torch."), None)
        if isinstance(found, torch.dtype):
            return found
    raise NotYet(f"`{name}` should be a dtype such as `torch.int64`, not {value!r}.")


def _shape(value: Any, name: str) -> tuple[int, ...]:
    """A learner's shape answer: a tuple, a list or a ``torch.Size``."""
    try:
        shape = tuple(int(size) for size in value)
    except (TypeError, ValueError):
        shape = None
    if shape is None or isinstance(value, str | torch.Tensor):
        raise NotYet(f"`{name}` should be a shape such as `(2, 5)`, not {value!r}.")
    return shape


def _rounded(values: torch.Tensor) -> list[float]:
    return [round(v, 3) for v in values.tolist()]


def _tensor(value: Any, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        kind = type(value).__name__
        raise NotYet(f"`{name}` should return a tensor, not a {kind}.")
    return value


@registry.exercise("predict_promotion")
def _predict_promotion(answers: Answers) -> str:
    counts = torch.tensor([[1], [2], [3]], dtype=torch.uint8)
    offsets = torch.tensor([-1, 0, 1, 2], dtype=torch.int8)
    product = counts * offsets
    dtype = _dtype(answers.get("predicted_dtype"), "predicted_dtype")
    if dtype != product.dtype:
        raise NotYet(
            f"`predicted_dtype` is {dtype}, but `counts * offsets` is {product.dtype}. "
            "uint8 holds 0..255 and int8 holds -128..127; neither holds both ranges, "
            "so PyTorch promotes to the smallest signed type that does."
        )
    shape = _shape(answers.get("predicted_shape"), "predicted_shape")
    if shape != tuple(product.shape):
        raise NotYet(
            f"`predicted_shape` is {shape}, but the product has shape "
            f"{tuple(product.shape)}. Line the shapes (3, 1) and (4,) up from the "
            "right: each size-1 (or missing) dimension is stretched to the other's."
        )
    quotient = _dtype(
        answers.get("predicted_quotient_dtype"), "predicted_quotient_dtype"
    )
    if quotient != (product / 2).dtype:
        raise NotYet(
            f"`predicted_quotient_dtype` is {quotient}, but `product / 2` is "
            f"{(product / 2).dtype}: `/` is always true division, so integers give "
            "the default float dtype (`//` would keep an integer dtype)."
        )
    return (
        "A uint8 with an int8 gives int16, and (3, 1) with (4,) broadcasts to (3, 4)."
    )


@registry.exercise("standardise")
def _standardise(answers: Answers) -> str:
    X = torch.tensor([[1, 10], [2, 20], [3, 30], [6, 0]])
    Z = _tensor(answers.call("standardise", X), "standardise")
    if Z.dtype != torch.float32:
        raise NotYet(
            f"For int64 input the result is {Z.dtype}; it should be torch.float32 "
            "(convert with `.float()` before you compute the mean)."
        )
    if tuple(Z.shape) != (4, 2):
        raise NotYet(
            f"For X of shape (4, 2) the result has shape {tuple(Z.shape)}; it should "
            "keep X's shape. Reduce with `dim=0, keepdim=True` so that the column "
            "statistics have shape (1, 2) and broadcast over the rows."
        )
    means = Z.mean(dim=0)
    if not torch.allclose(means, torch.zeros(2), atol=1e-5):
        if torch.allclose(Z.mean(dim=1), torch.zeros(4), atol=1e-5):
            why = (
                "Each row has mean 0: you standardised the rows. The features are "
                "the columns: reduce with `dim=0`."
            )
        elif abs(Z.mean().item()) < 1e-5:
            why = (
                "The mean of the whole tensor is 0: you standardised all the numbers "
                "at once. Reduce over the rows only, with `dim=0`."
            )
        else:
            why = "Subtract each column's mean: `X.mean(dim=0, keepdim=True)`."
        raise NotYet(
            f"The column means of the result are {_rounded(means)}; each should be "
            f"0. {why}"
        )
    stds = [Z.std(dim=0, correction=c) for c in (1, 0)]
    if not any(torch.allclose(s, torch.ones(2), atol=1e-4) for s in stds):
        raise NotYet(
            f"The column standard deviations are {_rounded(stds[0])}; each should "
            "be 1. Divide by each column's own `X.std(dim=0, keepdim=True)`."
        )
    floats = torch.tensor([[0.5, 2.0, -1.0], [1.5, 4.0, 3.0], [4.0, 0.0, 1.0]])
    before = floats.clone()
    answers.call("standardise", floats)
    if not torch.equal(floats, before):
        raise NotYet(
            "`standardise` changed the float32 tensor it was given. For a float32 "
            "tensor `X.float()` returns X itself, not a copy, so an in-place `-=` or "
            "`/=` writes into the caller's data: write `X = X - ...` instead."
        )
    return "Every column now has mean 0 and standard deviation 1."


@registry.exercise("columns_first")
def _columns_first(answers: Answers) -> None:
    cases = [
        torch.arange(6).reshape(2, 3),
        torch.arange(12).reshape(3, 4),
        torch.arange(5).reshape(1, 5),
        torch.arange(12).reshape(4, 3).T,  # a non-contiguous input
    ]
    for m in cases:
        before = m.clone()
        try:
            flat = _tensor(answers.call("columns_first", m), "columns_first")
        except NotYet as exc:
            hint = (
                " `m.T` shares m's memory with swapped strides, so it is not "
                "contiguous and `view` cannot flatten it (notebook 01, *Strides and "
                "contiguity*)."
            )
            raise NotYet(str(exc) + (hint if "view" in str(exc) else "")) from None
        want = torch.cat([m[:, j] for j in range(m.shape[1])])
        if flat.shape != want.shape:
            raise NotYet(
                f"For a matrix of shape {tuple(m.shape)} the result has shape "
                f"{tuple(flat.shape)}; it should be 1-D, {tuple(want.shape)}."
            )
        if not torch.equal(flat, want):
            raise NotYet(
                f"For {m.tolist()} the result is {flat.tolist()}, but reading column "
                f"by column gives {want.tolist()}."
            )
        if not torch.equal(m, before):
            raise NotYet("`columns_first` changed the matrix it was given.")


def _grid_after(
    top_is_view: bool, clone_shares: bool, rebind_writes: bool, mask_read_is_view: bool
) -> torch.Tensor:
    """The final grid if each of the four steps wrote into grid or not."""
    grid = torch.zeros(2, 3)
    if top_is_view:
        grid[0] += 1
    if clone_shares:
        grid[1] = 7
    if rebind_writes:
        grid *= 10
    if mask_read_is_view:
        grid[grid > 0] = -1
    grid[:, 2] = 5
    return grid


MISTAKES = [
    "`top = grid[0]` is a view and `top += 1` is in place, so grid's first row changes",
    "`backup = grid.clone()` is a copy, so `backup[1] = 7` leaves grid alone",
    "`flat = flat * 10` builds a new tensor and rebinds the name `flat`; grid is "
    "untouched",
    "reading with a mask, `grid[grid > 0]`, gathers a copy, so `picked[:] = -1` "
    "leaves grid alone",
]
TRUTH = (True, False, False, False)


@registry.exercise("predict_views")
def _predict_views(answers: Answers) -> None:
    predicted = answers.get("predicted_grid")
    try:
        guess = torch.as_tensor(predicted, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError):
        guess = None
    if guess is None or guess.shape != (2, 3):
        raise NotYet(
            "`predicted_grid` should be 2 rows of 3 numbers, like "
            "`[[0, 0, 0], [0, 0, 0]]`."
        )
    actual = _grid_after(*TRUTH)
    if torch.equal(guess, actual):
        return
    for beliefs in itertools.product((True, False), repeat=4):
        if torch.equal(guess, _grid_after(*beliefs)):
            wrong = [m for m, b, t in zip(MISTAKES, beliefs, TRUTH) if b != t]
            raise NotYet(
                f"Your grid {guess.int().tolist()} misses "
                + ("this: " if len(wrong) == 1 else "these: ")
                + "; ".join(wrong)
                + "."
            )
    raise NotYet(
        f"Your grid {guess.int().tolist()} is not the result. Go through the lines "
        "one by one and ask: is this name a view of grid (shares its memory) or a "
        "copy, and does this line change the tensor in place or build a new one?"
    )


@registry.exercise("pairwise_distances")
def _pairwise_distances(answers: Answers) -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, generator=generator)
    b = torch.randn(6, 3, generator=generator)
    dist = _tensor(answers.call("pairwise_distances", a, b), "pairwise_distances")
    want = torch.cdist(a, b)
    if tuple(dist.shape) != (4, 6):
        raise NotYet(
            f"For a of shape (4, 3) and b of shape (6, 3) the result has shape "
            f"{tuple(dist.shape)}; it should be (4, 6). `a.unsqueeze(1) - "
            "b.unsqueeze(0)` has shape (4, 6, 3); sum the squares over the last "
            "dimension, `dim=-1`."
        )
    if torch.allclose(dist, want**2, atol=1e-4):
        raise NotYet("These are the squared distances: take the square root too.")
    if not torch.allclose(dist, want, atol=1e-4):
        raise NotYet(
            "The shape is right but the values are not: entry (i, j) should be "
            "sqrt(sum((a[i] - b[j]) ** 2))."
        )
