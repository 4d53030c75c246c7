"""Checks for the exercises of chapter 07
(notebooks/exercises/07_faster_training_*.ipynb)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest.mock import patch

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from torchprimer import speed
from torchprimer.exercises import Answers, NotYet, Registry, describe, whole_number
from torchprimer.loaders import TensorLoader
from torchprimer.models import CNN, MLP

registry = Registry("07")
check = registry.check


def _tuple(value: Any, name: str) -> tuple[int, ...]:
    try:
        if isinstance(value, str | torch.Tensor):
            raise TypeError
        return tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise NotYet(
            f"`{name}` should be a tuple of whole numbers such as `(1, 2, 3, 4)`, "
            f"not {describe(value)}."
        ) from None


def _seeded_mlp(seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MLP()


def _random(seed: int, *shape: int) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return torch.randn(*shape)


# --- Exercise 1: evaluation without autograd ----------------------------------------


@registry.exercise("inference_mode")
def _inference_mode(answers: Answers) -> str:
    model = _seeded_mlp(7).eval()
    X = _random(8, 300, 1, 28, 28)
    with torch.no_grad():
        want = model(X)
    recording: list[bool] = []
    hook = model.register_forward_pre_hook(
        lambda module, args: recording.append(torch.is_grad_enabled())
    )
    grad_before = torch.is_grad_enabled()
    inference_before = torch.is_inference_mode_enabled()
    try:
        got = answers.call_as(
            "predict_logits",
            "predict_logits(model, X, 64)",
            model,
            X.clone(),
            64,
        )
    finally:
        hook.remove()
        grad_after = torch.is_grad_enabled()
        inference_after = torch.is_inference_mode_enabled()
        torch.set_grad_enabled(grad_before)  # undo a global switch for the notebook
    if grad_after != grad_before or inference_after != inference_before:
        raise NotYet(
            "After `predict_logits` returned, gradient recording was still off for "
            "the whole program (`torch.set_grad_enabled(False)`, or a mode entered "
            "and never left), so a later `loss.backward()` would find no graph. Use "
            "a `with` block, `with torch.inference_mode():`, which switches it back "
            "on when the block ends."
        )
    if not all(param.requires_grad for param in model.parameters()):
        raise NotYet(
            "`predict_logits` froze the model: `requires_grad_(False)` turns off the "
            "weights' gradients for good, so no later training step can update them. "
            "Leave the weights as they are and run the forward passes inside "
            "`with torch.inference_mode():`, which affects only that block."
        )
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        raise NotYet(
            f"`predict_logits(model, X, 64)` for 300 images returned {describe(got)}; "
            f"want the logits, shape {tuple(want.shape)}."
        )
    if not torch.allclose(got.detach(), want, atol=1e-5):
        raise NotYet(
            "The logits differ from the model's: run every batch of X through the "
            "model once, in order, and concatenate the outputs."
        )
    if got.requires_grad:
        raise NotYet(
            f"The logits require gradients (grad_fn={type(got.grad_fn).__name__}): "
            "autograd recorded every operation and kept each batch's activations "
            "for a backward pass that never comes. Run the forward passes inside "
            "`with torch.inference_mode():` (or `torch.no_grad()`)."
        )
    if any(recording):
        raise NotYet(
            "The result does not require gradients, but the forward passes still ran "
            "with autograd recording (detaching afterwards throws the graph away "
            "only after building it). Run them inside `with torch.inference_mode():`."
        )
    return "No graph is built: no saved activations, less work per batch."


# --- Exercise 2: batches from tensors in memory -------------------------------------


@contextmanager
def _without_loaders() -> Iterator[None]:
    """While the learner's `batches` runs, iterating over a `DataLoader` or chapter
    06's `TensorLoader` raises: the exercise asks for the indexing itself."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotYet(
            "Your `batches` iterates over a `DataLoader` (or chapter 06's "
            "`TensorLoader`); this exercise asks you to cut each batch out of `X` and "
            "`y` yourself: one indexing operation (`X.index_select(0, idx)` or "
            "`X[idx]`) with the batch's indices from `order`."
        )

    with (
        patch.object(DataLoader, "__iter__", refuse),
        patch.object(TensorLoader, "__iter__", refuse),
    ):
        yield


class _CountOps(TorchDispatchMode):
    """Counts the ATen operations that run inside it."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


_OPS_PER_BATCH = 6  # a slice of `order` and one indexing per tensor take 3


@registry.exercise("batches")
def _batches(answers: Answers) -> str:
    for n, batch_size, seed in [(10, 4, 0), (8, 4, 1), (5, 8, 2), (7, 1, 3)]:
        X = _random(seed, n, 1, 2, 3)
        y = torch.arange(n) * 10
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            order = torch.randperm(n)
        loader = DataLoader(
            TensorDataset(X, y), batch_size=batch_size, sampler=order.tolist()
        )
        want = list(loader)
        what = f"`batches(X, y, {batch_size}, order)` with {n} rows"
        with _without_loaders(), _CountOps() as ops:
            result = answers.call_as(
                "batches",
                f"batches(X, y, {batch_size}, order)",
                X,
                y,
                batch_size,
                order.clone(),
                hint="a loop that `yield`s `(X_batch, y_batch)` pairs.",
            )
            try:
                got = list(result)
            except NotYet:
                raise
            except Exception as exc:  # the learner's generator: report, never crash
                text = str(exc).strip()
                first = text.splitlines()[0] if text else ""
                raise NotYet(
                    f"Going through {what} stopped with {type(exc).__name__}: {first}"
                ) from None
        sizes = [len(b) for _, b in want]
        if got and ops.count > _OPS_PER_BATCH * len(got):
            raise NotYet(
                f"{what} ran {ops.count} PyTorch operations for {len(got)} batches: "
                "it cuts the batches row by row (a list of rows that `torch.stack` "
                "or `default_collate` joins). Cut each batch with one indexing "
                "operation, `X.index_select(0, idx)` or `X[idx]`, with `idx` the "
                "batch's slice of `order`."
            )
        if len(got) != len(want):
            raise NotYet(
                f"{what} gave {len(got)} batches; DataLoader gives {len(want)} "
                f"(sizes {sizes}): every row once, the last batch may be smaller."
            )
        for i, (pair, (want_X, want_y)) in enumerate(zip(got, want)):
            if not (isinstance(pair, tuple | list) and len(pair) == 2):
                raise NotYet(
                    f"Batch {i} of {what} is {describe(pair)}; yield pairs `(X, y)`."
                )
            got_X, got_y = pair
            if not isinstance(got_X, torch.Tensor) or not isinstance(
                got_y, torch.Tensor
            ):
                raise NotYet(
                    f"Batch {i} of {what} holds {describe(got_X)} and "
                    f"{describe(got_y)}; want two tensors."
                )
            if tuple(got_X.shape) != tuple(want_X.shape) or got_y.shape != want_y.shape:
                raise NotYet(
                    f"Batch {i} of {what} has X of shape {tuple(got_X.shape)} and y of "
                    f"shape {tuple(got_y.shape)}; DataLoader gives "
                    f"{tuple(want_X.shape)} and {tuple(want_y.shape)}."
                )
            if got_y.dtype != want_y.dtype:
                raise NotYet(
                    f"Batch {i} of {what} has labels of dtype {got_y.dtype}; y is "
                    f"{want_y.dtype}: index it, don't convert it."
                )
            if not torch.equal(got_y, want_y):
                raise NotYet(
                    f"Batch {i} of {what} holds labels {got_y.tolist()}; DataLoader "
                    f"gives {want_y.tolist()}. Take the rows `order[start:start + "
                    "batch_size]`, in that order."
                )
            if got_X.dtype != want_X.dtype or not torch.equal(got_X, want_X):
                raise NotYet(
                    f"Batch {i} of {what} has the right labels but other images: "
                    "index X and y with the same indices."
                )
    return "The same batches as DataLoader, with one indexing operation per batch."


# --- Exercise 3: channels_last ------------------------------------------------------


@registry.exercise("channels_last")
def _channels_last(answers: Answers) -> str:
    x = torch.zeros(2, 3, 4, 5).to(memory_format=torch.channels_last)
    shape = _tuple(answers.get("predicted_shape"), "predicted_shape")
    stride = _tuple(answers.get("predicted_stride"), "predicted_stride")
    contiguous = answers.get("predicted_is_contiguous")
    if shape != tuple(x.shape):
        raise NotYet(
            f"`predicted_shape` is {shape}. `channels_last` changes only how the "
            "elements lie in memory: the shape stays (N, C, H, W) = (2, 3, 4, 5), "
            "and every index x[n, c, h, w] means what it meant before."
        )
    if stride == (60, 20, 5, 1):
        raise NotYet(
            "`predicted_stride` is (60, 20, 5, 1): that is the default layout, "
            "channels outside rows and rows outside columns."
        )
    if stride != tuple(x.stride()):
        raise NotYet(
            f"`predicted_stride` is {stride}. In channels_last, memory holds the 3 "
            "channels of pixel (0, 0), then those of pixel (0, 1), and so on. The "
            "stride of a dimension is how many elements one step along it skips: "
            "a channel, a column (C), a row (W·C), an image (H·W·C)."
        )
    if not isinstance(contiguous, bool):
        raise NotYet(
            f"`predicted_is_contiguous` should be True or False, not "
            f"{describe(contiguous)}."
        )
    if contiguous != x.is_contiguous():
        raise NotYet(
            "`predicted_is_contiguous` is True, but `is_contiguous()` asks about the "
            "default layout (strides (60, 20, 5, 1)); channels_last is contiguous only "
            "for `is_contiguous(memory_format=torch.channels_last)`."
        )
    return "Same shape, strides (60, 1, 15, 3): the channels are side by side."


# --- Exercise 4: FLOPs --------------------------------------------------------------


@registry.exercise("predict_flops")
def _predict_flops(answers: Answers) -> str:
    sizes = [784, 128, 64, 32, 10]
    batch = 64
    layers = [2 * batch * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    linear, forward = layers[0], sum(layers)
    training = forward + 2 * forward - layers[0]
    got = whole_number(answers.get("predicted_linear_flops"), "predicted_linear_flops")
    if got != linear:
        hints = {
            batch * 784 * 128: "Each multiply-add counts as 2 FLOPs: a multiply and "
            "an add.",
            2 * 784 * 128: "That is for one image; the batch holds 64.",
            2 * batch * 784 * 128 + batch * 128: "`FlopCounterMode` counts the matrix "
            "multiplication only, not the bias addition.",
        }
        hint = hints.get(
            got,
            "Each of the 64 × 128 outputs is a dot product of length 784: 784 "
            "multiplications and 784 additions.",
        )
        raise NotYet(f"`predicted_linear_flops` is {got:,}. {hint}")
    got = whole_number(
        answers.get("predicted_forward_flops"), "predicted_forward_flops"
    )
    if got != forward:
        raise NotYet(
            f"`predicted_forward_flops` is {got:,}. Add 2 · 64 · in · out over the "
            "four linear layers 784→128→64→32→10; ReLU and Flatten do no matrix "
            "multiplication."
        )
    got = whole_number(
        answers.get("predicted_training_flops"), "predicted_training_flops"
    )
    if got == 3 * forward:
        raise NotYet(
            f"`predicted_training_flops` is {got:,}, 3× the forward pass. Almost: the "
            "images do not require gradients, so backward() skips the gradient with "
            "respect to the first layer's input, one matrix multiplication of "
            f"{layers[0]:,} FLOPs."
        )
    if got != training:
        raise NotYet(
            f"`predicted_training_flops` is {got:,}. The backward pass of a linear "
            "layer computes the gradient for its weight and for its input: two "
            "multiplications of the forward pass's size each, except that nothing "
            "needs the gradient of the images."
        )
    return "Backward costs about twice the forward pass; a training step ≈ 3×."


# --- Exercise 5: bfloat16 autocast --------------------------------------------------


@registry.exercise("autocast")
def _autocast(answers: Answers) -> str:
    model = _seeded_mlp(9).eval()
    X = _random(10, 128, 1, 28, 28)
    with torch.no_grad():
        want = model(X)
    seen: list[tuple[bool, torch.dtype]] = []
    hook = model.register_forward_pre_hook(
        lambda module, args: seen.append(
            (torch.is_autocast_enabled("cpu"), torch.get_autocast_dtype("cpu"))
        )
    )
    try:
        got = answers.call_as("bf16_logits", "bf16_logits(model, X)", model, X.clone())
    finally:
        hook.remove()
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        raise NotYet(
            f"`bf16_logits(model, X)` for 128 images returned {describe(got)}; want "
            f"the logits, shape {tuple(want.shape)}."
        )
    dtypes = {param.dtype for param in model.parameters()}
    if dtypes != {torch.float32}:
        raise NotYet(
            f"After `bf16_logits` the weights are {sorted(map(str, dtypes))}: "
            "autocast leaves the weights in float32 and casts per operation. Don't "
            "convert the model (`model.bfloat16()` / `model.to(...)`)."
        )
    if not seen or not all(on and dtype == torch.bfloat16 for on, dtype in seen):
        raise NotYet(
            "The model did not run under CPU autocast with bfloat16: call it inside "
            '`with torch.autocast("cpu", dtype=torch.bfloat16):`.'
        )
    if got.dtype != torch.bfloat16:
        raise NotYet(
            f"The logits are {got.dtype}; under autocast `nn.Linear` returns "
            "bfloat16. Return the model's output as it is: the chapter's `Autocast` "
            "casts it to float32 so that the loss is computed in float32, but here "
            "the dtype itself shows that the last matrix multiplication ran in "
            "bfloat16."
        )
    error = (got.detach().float() - want).abs().max().item()
    scale = want.abs().max().item()
    if error > 0.05 * scale + 1e-3:
        raise NotYet(
            f"The logits differ from float32 by up to {error:.3g} (their size is "
            f"{scale:.3g}); pass X through the model unchanged."
        )
    return f"Largest difference from float32: {error:.1e}, with weights still float32."


# --- Exercise 6: the compute bound of a training step --------------------------------


@contextmanager
def _without_speed(answers: Answers) -> Iterator[None]:
    """While the learner's `compute_bound` runs, torchprimer.speed's FLOP helpers
    raise, whether called from the module or imported into the notebook."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotYet(
            "Your `compute_bound` calls a helper from torchprimer.speed "
            "(`count_flops`, `training_step`, ...); this exercise asks you to count "
            "the FLOPs yourself: forward, loss and `backward()` under "
            "`FlopCounterMode`, with no optimizer step."
        )

    names = ["count_flops", "flops_per_second", "roofline", "training_step"]
    originals = [getattr(speed, name) for name in names]
    namespace = answers._namespace  # the notebook's globals: names bound by imports
    imported = {
        name: refuse
        for name, value in list(namespace.items())
        if any(value is original for original in originals)
    }
    with ExitStack() as stack:
        for name in names:
            stack.enter_context(patch.object(speed, name, refuse))
        stack.enter_context(patch.dict(namespace, imported))
        yield


def _counted(model: nn.Module, X: torch.Tensor, y: torch.Tensor, backward: bool) -> int:
    """FLOPs of the forward pass and loss (and ``backward()``) of ``model``."""
    with FlopCounterMode(display=False) as counter:
        loss = nn.functional.cross_entropy(model(X), y)
        if backward:
            loss.backward()
    model.zero_grad()
    return counter.get_total_flops()


@registry.exercise("compute_bound")
def _compute_bound(answers: Answers) -> str:
    peak = 5e10
    cases = [
        ("the MLP", lambda: MLP(), (32, 1, 28, 28)),
        ("a small CNN", lambda: CNN(widths=(4, 8, 8), hidden=16), (8, 1, 28, 28)),
    ]
    for i, (name, build, shape) in enumerate(cases):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(20 + i)
            model, X = build(), torch.randn(*shape)
            y = torch.randint(0, 10, (shape[0],))
        forward = _counted(model, X, y, backward=False)
        step = _counted(model, X, y, backward=True)
        shown = f"compute_bound(model, X, y, {peak:.0e})"
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
        with _without_speed(answers):
            got = answers.call_as("compute_bound", shown, model, X, y, peak)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, bool) or not isinstance(got, int | float):
            raise NotYet(
                f"`{shown}` returned {describe(got)}; return seconds, a float."
            )
        if math.isclose(got, forward / peak, rel_tol=1e-6):
            raise NotYet(
                f"For {name}, `{shown}` is the forward pass's FLOPs over the peak. A "
                "training step also runs the backward pass, which costs about twice "
                "the forward's FLOPs: count `loss.backward()` too."
            )
        if math.isclose(got, step, rel_tol=1e-6) or math.isclose(
            got, step * peak, rel_tol=1e-6
        ):
            raise NotYet(
                f"For {name}, `{shown}` is {got:.4g}, the FLOP count (or its product "
                "with the peak): divide the FLOPs by `peak_flops` to get seconds."
            )
        if not math.isclose(got, step / peak, rel_tol=1e-6):
            raise NotYet(
                f"For {name}, `{shown}` is {got:.4g} s; count the FLOPs of the forward "
                "pass, the loss and `backward()` under `FlopCounterMode`, and divide "
                "by `peak_flops`."
            )
        after = torch.cat([p.detach().flatten() for p in model.parameters()])
        if not torch.equal(after, weights):
            raise NotYet(
                f"For {name}, the FLOP count is right, but `{shown}` changed the "
                "model's weights: it ran an optimizer step. Count forward, loss and "
                "`backward()` only (the optimizer adds no counted FLOPs), and leave "
                "the model as you found it."
            )
        if any(param.grad is not None for param in model.parameters()):
            raise NotYet(
                f"For {name}, the FLOP count is right, but `{shown}` left tensors in "
                "the parameters' `.grad`, where there were none: the next "
                "`backward()` would add to them, and they hold memory. Clear them "
                "with `model.zero_grad()`, which sets them back to None."
            )
    return (
        "The bound: what a step would take if every FLOP ran at the peak rate. A "
        "real step also runs elementwise kernels, the optimizer and Python, which "
        "FlopCounterMode does not count."
    )
