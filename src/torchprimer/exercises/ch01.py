"""Checks for the exercises of chapter 01
(notebooks/exercises/01_tensors_*.ipynb)."""

from __future__ import annotations

import dis
import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType, ModuleType
from typing import Any

import torch
import torch.nn.functional as F

from torchprimer.exercises import Answers, NotYet, Registry

registry = Registry("01")
check = registry.check

Places = list[tuple[ModuleType, str]]


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


def _names_in(code: CodeType) -> set[str]:
    """The global and attribute names that ``code`` (and the code inside it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            names |= _names_in(const)
    return names


JUMPS = set(dis.hasjrel) | set(dis.hasjabs)


def _has_loop(code: CodeType) -> bool:
    """Whether ``code``, or a comprehension or function inside it, runs a loop:
    a ``for`` (FOR_ITER) or a ``while`` (a jump back to an earlier instruction)."""
    for ins in dis.get_instructions(code):
        if ins.opname == "FOR_ITER":
            return True
        target = ins.argval
        if ins.opcode in JUMPS and isinstance(target, int) and target <= ins.offset:
            return True
    return any(_has_loop(c) for c in code.co_consts if isinstance(c, CodeType))


def _refuse_loops(answers: Answers, function: str, instead: str) -> None:
    """NotYet if the learner's ``function`` contains a ``for``, ``while`` or
    comprehension: the exercise asks for tensor operations instead."""
    code = getattr(answers.get(function), "__code__", None)
    if code is not None and _has_loop(code):
        raise NotYet(
            f"`{function}` contains a Python loop (a `for`, a `while` or a "
            f"comprehension). This exercise asks you to do without one: {instead}"
        )


@contextmanager
def _switched_off(places: Places, message: Callable[[str], str]) -> Iterator[list[str]]:
    """Replace each ``module.name`` in ``places`` by a function that records its use
    and stops the learner's code with ``message(name)``; restore them afterwards."""
    used: list[str] = []
    saved = [(module, name, getattr(module, name)) for module, name in places]

    def blocked(name: str) -> Callable[..., Any]:
        def stop(*args: Any, **kwargs: Any) -> Any:
            used.append(name)
            raise NotYet(message(name))

        return stop

    for module, name, _ in saved:
        setattr(module, name, blocked(f"{module.__name__}.{name}"))
    try:
        yield used
    finally:
        for module, name, original in saved:
            setattr(module, name, original)


def _call_without(
    answers: Answers,
    function: str,
    args: tuple[Any, ...],
    places: Places,
    message: Callable[[str], str],
) -> Any:
    """Call the learner's ``function`` with the library functions in ``places``
    switched off. NotYet with ``message(name)`` if it names or calls one of them."""
    learner = answers.get(function)
    code = getattr(learner, "__code__", None)
    named = _names_in(code) if code else set()
    for module, name in places:
        if name in named:
            raise NotYet(message(f"{module.__name__}.{name}"))
    with _switched_off(places, message) as used:
        result = answers.call(function, *args)
    if used:  # the learner's code caught the error: still a shortcut
        raise NotYet(message(used[0]))
    return result


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
    scalar = _dtype(answers.get("predicted_scalar_dtype"), "predicted_scalar_dtype")
    wrapped = counts + torch.tensor(300)
    if scalar != wrapped.dtype:
        raise NotYet(
            f"`predicted_scalar_dtype` is {scalar}, but `counts + torch.tensor(300)` "
            f"is {wrapped.dtype}. A 0-dim tensor, like a Python number, can raise the "
            "kind of the result (from integer to float, say), but it never widens a "
            "tensor with dimensions of its own kind: both are integers, so uint8 stays."
        )
    return (
        "uint8 with int8 gives int16, (3, 1) with (4,) broadcasts to (3, 4), `/` gives "
        "float32, and the 0-dim int64 does not widen uint8: `counts + "
        f"torch.tensor(300)` wraps around to {wrapped.flatten().tolist()} "
        "(301 - 256 = 45)."
    )


NORMALISERS: Places = [
    (F, "batch_norm"),
    (F, "layer_norm"),
    (F, "instance_norm"),
    (F, "group_norm"),
    (torch, "batch_norm"),
    (torch, "layer_norm"),
    (torch, "instance_norm"),
    (torch, "group_norm"),
    (torch.nn, "BatchNorm1d"),
    (torch.nn, "LayerNorm"),
]


def _no_normaliser(name: str) -> str:
    return (
        f"`standardise` uses `{name}`, which standardises for you. This exercise "
        "asks you to write it yourself: subtract "
        "`X.mean(dim=0, keepdim=True)` and divide by `X.std(dim=0, keepdim=True)`."
    )


@registry.exercise("standardise")
def _standardise(answers: Answers) -> str:
    _refuse_loops(
        answers,
        "standardise",
        "reduce all the columns at once with `X.mean(dim=0, keepdim=True)` and "
        "`X.std(dim=0, keepdim=True)`, and let broadcasting line them up with X.",
    )
    X = torch.tensor([[1, 10], [2, 20], [3, 30], [6, 0]])
    result = _call_without(answers, "standardise", (X,), NORMALISERS, _no_normaliser)
    Z = _tensor(result, "standardise")
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
    _call_without(answers, "standardise", (floats,), NORMALISERS, _no_normaliser)
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
        want = torch.cat([before[:, j] for j in range(before.shape[1])])
        try:
            flat = _tensor(answers.call("columns_first", m), "columns_first")
        except NotYet as exc:
            hint = (
                " `m.T` shares m's memory with swapped strides, so it is not "
                "contiguous and `view` cannot flatten it (notebook 01, *Strides and "
                "contiguity*)."
            )
            raise NotYet(str(exc) + (hint if "view" in str(exc) else "")) from None
        if m.shape != before.shape or not torch.equal(m, before):
            raise NotYet(
                f"`columns_first` changed the matrix it was given: {before.tolist()} "
                f"became {m.tolist()}. An in-place method such as `t_()` transposes "
                "the caller's tensor; `m.T` returns a new view and leaves m alone."
            )
        if flat.shape != want.shape:
            raise NotYet(
                f"For a matrix of shape {tuple(m.shape)} the result has shape "
                f"{tuple(flat.shape)}; it should be 1-D, {tuple(want.shape)}."
            )
        if not torch.equal(flat, want):
            row_by_row = torch.equal(flat, m.reshape(-1))
            raise NotYet(
                f"For {m.tolist()} the result is {flat.tolist()}, but reading column "
                f"by column gives {want.tolist()}."
                + (" Yours reads row by row: transpose first." if row_by_row else "")
            )


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
def _predict_views(answers: Answers) -> str:
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
        return (
            "Only `top += 1` (in place, through a view) and `grid[:, 2] = 5` write "
            "into grid; the clone, the rebound `flat` and the mask-read `picked` are "
            "separate tensors."
        )
    # Every set of beliefs that explains the guess, fewest mistakes first; name only
    # the mistakes that all of the simplest explanations share.
    explanations = sorted(
        (
            [i for i, (b, t) in enumerate(zip(beliefs, TRUTH)) if b != t]
            for beliefs in itertools.product((True, False), repeat=4)
            if torch.equal(guess, _grid_after(*beliefs))
        ),
        key=len,
    )
    if explanations:
        best = [e for e in explanations if len(e) == len(explanations[0])]
        wrong = [MISTAKES[i] for i in best[0] if all(i in e for e in best)]
        if wrong:
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


DISTANCE_FUNCTIONS: Places = [
    (torch, "cdist"),
    (torch.functional, "cdist"),
    (F, "pairwise_distance"),
    (torch, "pairwise_distance"),
    (torch.nn, "PairwiseDistance"),
]


def _no_cdist(name: str) -> str:
    return (
        f"`pairwise_distances` uses `{name}`, which computes the distances for you. "
        "This exercise asks you to build them with broadcasting: `a.unsqueeze(1) - "
        "b.unsqueeze(0)`, then square, sum over the last dimension and take the root."
    )


@registry.exercise("pairwise_distances")
def _pairwise_distances(answers: Answers) -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, generator=generator)
    b = torch.randn(6, 3, generator=generator)
    want = torch.cdist(a, b)  # before the learner's code runs with it switched off
    _refuse_loops(
        answers,
        "pairwise_distances",
        "`a.unsqueeze(1) - b.unsqueeze(0)` has shape (N, M, D) and holds every "
        "difference at once.",
    )
    result = _call_without(
        answers, "pairwise_distances", (a, b), DISTANCE_FUNCTIONS, _no_cdist
    )
    dist = _tensor(result, "pairwise_distances")
    if tuple(dist.shape) == (6, 4) and torch.allclose(dist, want.T, atol=1e-4):
        raise NotYet(
            "The result has shape (6, 4): rows for b's points, columns for a's. Entry "
            "(i, j) should belong to a[i] and b[j]: unsqueeze `a` at 1 and `b` at 0."
        )
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


LOSS_FUNCTIONS: Places = [(F, "nll_loss"), (torch.nn, "NLLLoss")]


def _no_loss(name: str) -> str:
    return (
        f"`true_class_scores` uses `{name}`, a loss function. This exercise asks you "
        "to pick the entries yourself: `scores.gather(1, y.unsqueeze(1))` or "
        "`scores[torch.arange(len(y)), y]`."
    )


@registry.exercise("true_class_scores")
def _true_class_scores(answers: Answers) -> None:
    scores = torch.tensor(
        [
            [0.5, 2.0, -1.0, 0.0],
            [3.0, 1.0, 0.5, 2.5],
            [-2.0, 0.0, 1.5, 4.0],
            [1.0, 1.5, 0.0, -0.5],
            [0.0, -1.0, 2.0, 1.0],
        ]
    )
    y = torch.tensor([2, 0, 1, 3, 2])  # the true class is often not the largest
    _refuse_loops(
        answers,
        "true_class_scores",
        "`scores.gather(1, y.unsqueeze(1))` or `scores[torch.arange(len(y)), y]` "
        "picks all the entries at once.",
    )
    before = scores.clone()
    try:
        result = _call_without(
            answers, "true_class_scores", (scores, y), LOSS_FUNCTIONS, _no_loss
        )
    except NotYet as exc:
        hint = (
            " `gather` wants an index with as many dimensions as `scores`: "
            "`y.unsqueeze(1)`, of shape (N, 1)."
        )
        text = str(exc).rstrip(".") + "."
        same_ndim = "same number of dimensions" in text
        raise NotYet(text + (hint if same_ndim else "")) from None
    picked = _tensor(result, "true_class_scores")
    want = scores[torch.arange(len(y)), y]
    gather_hint = (
        "For `gather` along dim 1, out[i][j] is scores[i][index[i][j]]: the index is "
        "`y.unsqueeze(1)`."
    )
    if picked.numel() == 5 and tuple(picked.shape) != (5,):
        values = picked.flatten()
        if torch.equal(values, scores.max(dim=1).values):
            raise NotYet(
                "These are each row's largest scores, not the scores of the true "
                "classes in `y`."
            )
        if not torch.equal(values, want):
            raise NotYet(
                f"The result has shape {tuple(picked.shape)} and holds "
                f"{values.tolist()}, but scores[i, y[i]] gives {want.tolist()}. "
                + gather_hint
            )
        raise NotYet(
            f"The values are right, but the result has shape {tuple(picked.shape)}, "
            "the shape of the index you gathered with; drop the size-1 dimension "
            "with `.squeeze(1)` to get shape (5,)."
        )
    if tuple(picked.shape) == (5, 5):
        raise NotYet(
            "The result has shape (5, 5): `scores[:, y]` takes all the columns in `y` "
            "from every row. Pair row i with column y[i]: index the rows with "
            "`torch.arange(len(y))` as well, or use `gather`."
        )
    if tuple(picked.shape) != (5,):
        raise NotYet(
            f"For scores of shape (5, 4) and y of shape (5,) the result has shape "
            f"{tuple(picked.shape)}; it should be (5,), one score per row."
        )
    if torch.equal(picked, scores.max(dim=1).values):
        raise NotYet(
            "These are each row's largest scores, not the scores of the true classes "
            "in `y`."
        )
    if not torch.equal(picked, want):
        raise NotYet(
            f"The result is {picked.tolist()}, but scores[i, y[i]] gives "
            f"{want.tolist()}. " + gather_hint
        )
    if not torch.equal(scores, before):
        raise NotYet("`true_class_scores` changed the scores it was given.")
