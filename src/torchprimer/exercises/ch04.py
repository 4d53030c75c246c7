"""Checks for the exercises of chapter 04
(notebooks/exercises/04_autograd_*.ipynb)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchprimer.exercises import Answers, NotYet, Registry, describe

registry = Registry("04")
check = registry.check


class _Named:
    """A function that shows as its name in a check's message: ``f``, not its repr."""

    def __init__(self, name: str, function: Callable[..., Any]) -> None:
        self.name, self.function = name, function

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)

    def __repr__(self) -> str:
        return self.name


def _numbers(value: Any, name: str, count: int) -> list[float]:
    """A prediction written as a number, a list of numbers or a tensor."""
    try:
        if isinstance(value, str | bool):
            raise TypeError
        flat = torch.as_tensor(value, dtype=torch.float64).detach().reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise NotYet(
            f"`{name}` should be {'a number' if count == 1 else f'{count} numbers'}, "
            f"not {describe(value)}."
        ) from None
    if flat.numel() != count:
        raise NotYet(
            f"`{name}` holds {flat.numel()} numbers; want {count}"
            + (": one for each weight." if count > 1 else ".")
        )
    return flat.tolist()


def _close(a: list[float], b: list[float], tol: float = 1e-3) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


# --- Exercise 1: a gradient by hand ------------------------------------------------


@registry.exercise("predict_gradient")
def _predict_gradient(answers: Answers) -> str:
    x = [2.0, 1.0, 0.5]
    z, y = 2.0 * 1.0 + 1.0 * -2.0 + 0.5 * 3.0 + 0.5, 1.0  # z = 2.0
    dz = 2 * (z - y)  # dL/dz = 2
    want_w = [dz * xi for xi in x]
    w_grad = _numbers(answers.get("predicted_w_grad"), "predicted_w_grad", 3)
    b_grad = _numbers(answers.get("predicted_b_grad"), "predicted_b_grad", 1)
    x_grad = answers.get("predicted_x_grad")
    if _close(w_grad, x):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}, which is x: that is ∂z/∂w. The loss "
            "squares (z - y), so the chain rule multiplies by ∂L/∂z = 2(z - y) too."
        )
    if _close(w_grad, [-v for v in want_w]):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}: the sign is flipped. ∂L/∂z = 2(z - y), "
            "and here z = 2 is above y = 1."
        )
    if not _close(w_grad, want_w):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}. Work it out in two steps: z = x·w + b "
            "(what is z here?), then ∂L/∂w_i = 2(z - y)·x_i."
        )
    if not _close(b_grad, [dz]):
        raise NotYet(
            f"`predicted_b_grad` is {b_grad[0]:g}. ∂z/∂b = 1, so ∂L/∂b = 2(z - y)."
        )
    if x_grad is not None:
        raise NotYet(
            f"`predicted_x_grad` is {describe(x_grad)}. `x` was created without "
            "`requires_grad=True`: backward() fills `.grad` only for leaves that "
            "require gradients, and `x.grad` stays None."
        )
    return "z = 2, so ∂L/∂z = 2; w.grad = 2·x = [4, 2, 1], b.grad = 2, x.grad is None."


# --- Exercise 2: an in-place change of a saved tensor ------------------------------


@registry.exercise("inplace_clamp")
def _inplace_clamp(answers: Answers) -> str:
    z = torch.tensor([2.0, -1.0, 0.5, -3.0], requires_grad=True)
    y = torch.tensor([1.0, 0.0, 0.0, 1.0])
    loss = answers.call("bce_by_hand", z, y)
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise NotYet(
            f"`bce_by_hand(z, y)` returned {describe(loss)}; want the loss, a tensor "
            "with one number."
        )
    want = nn.functional.binary_cross_entropy_with_logits(z.detach(), y)
    if not torch.allclose(loss.detach().float(), want, atol=1e-5):
        raise NotYet(
            f"`bce_by_hand(z, y)` is {loss.item():.4f}; binary cross-entropy gives "
            f"{want.item():.4f}."
        )
    if not loss.requires_grad:
        raise NotYet(
            "The loss does not require gradients any more, so backward() cannot reach "
            "z: the fix must keep the computation in the graph (no `.detach()` or "
            "`torch.no_grad()`)."
        )
    try:
        loss.reshape(()).backward()
    except RuntimeError as exc:
        first = str(exc).splitlines()[0].split(". Hint")[0]
        raise NotYet(
            f"backward() fails: {first}. `sigmoid` saved its output `p` for the "
            "backward pass, and the clamp changed `p` in place. Write the clamp out of "
            "place, so that `p` names a new tensor."
        ) from None
    grad = torch.sigmoid(z.detach()) - y
    if z.grad is None or not torch.allclose(z.grad, grad / len(y), atol=1e-5):
        raise NotYet(
            "backward() runs, but z.grad is not (sigmoid(z) - y) / N, the gradient of "
            "binary cross-entropy."
        )
    far = answers.call("bce_by_hand", torch.tensor([30.0]), torch.tensor([0.0]))
    if not torch.isfinite(torch.as_tensor(far)).all():
        raise NotYet(
            "For z = 30 and y = 0 the loss is not finite: sigmoid(30) rounds to 1.0 in "
            "float32, and log(1 - 1) = -inf. Keep the clamp; just don't do it in place."
        )
    return "Out of place, `p = p.clamp(...)` leaves the saved output untouched."


# --- Exercise 3: a Jacobian from vector-Jacobian products --------------------------


def _f_small(t: torch.Tensor) -> torch.Tensor:
    return torch.stack([t[0] * t[1], t.sin().sum(), t[2] ** 3])


@registry.exercise("jacobian_rows")
def _jacobian_rows(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        A = torch.randn(5, 3)
    cases = [
        (
            "f(t) = A @ t, A of shape (5, 3)",
            _Named("f", lambda t: A @ t),
            torch.tensor([1.0, -2.0, 0.5]),
        ),
        (
            "the three-output f above",
            _Named("f", _f_small),
            torch.tensor([0.5, -1.0, 2.0, 0.3]),
        ),
    ]
    for what, f, inp in cases:
        want = torch.autograd.functional.jacobian(f, inp)
        m, n = want.shape
        got = answers.call("jacobian_from_vjps", f, inp.clone())
        if not isinstance(got, torch.Tensor):
            raise NotYet(
                f"`jacobian_from_vjps` returned {describe(got)} for {what}; want a "
                f"tensor of shape ({m}, {n})."
            )
        got = got.detach()
        if tuple(got.shape) == (n, m) and m != n:
            raise NotYet(
                f"For {what} the result has shape ({n}, {m}); the Jacobian is "
                f"(outputs, inputs) = ({m}, {n}): row i holds the gradient of output "
                "i. Stack the rows, don't concatenate columns."
            )
        if tuple(got.shape) != (m, n):
            raise NotYet(
                f"For {what} the result is {describe(got)}; want shape ({m}, {n}): "
                "one row per output element, one column per input element."
            )
        if not torch.allclose(got, want, atol=1e-5):
            if torch.allclose(got, want.cumsum(dim=0), atol=1e-5):
                raise NotYet(
                    f"For {what}, row i is the sum of the true rows 0 to i: backward() "
                    "adds to `.grad`. Clear the input's `.grad` before each backward "
                    "(or copy the row and set `.grad = None`)."
                )
            raise NotYet(
                f"For {what} the values differ from "
                "`torch.autograd.functional.jacobian`. Row i is the vector-Jacobian "
                "product with v = the i-th one-hot vector of the output's shape."
            )
    return "Each row is one backward pass with a one-hot v: what `jacobian` does."


# --- Exercise 4: gradients accumulate -----------------------------------------------


def _neuron_losses(X: torch.Tensor, y: torch.Tensor, lr: float, steps: int) -> list:
    w = torch.zeros(X.shape[1], 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w, b], lr=lr)
    loss_fn = nn.MSELoss()
    losses = []
    for _ in range(steps):
        loss = loss_fn(X @ w + b, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@registry.exercise("zero_grad")
def _zero_grad(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        X = torch.rand(12, 4)
    y = X.sum(dim=1, keepdim=True)
    for lr in (0.3, 0.1):
        want = _neuron_losses(X, y, lr, 30)
        result = answers.call("train_neuron", X, y, lr, 30)
        if not isinstance(result, tuple | list) or len(result) != 3:
            raise NotYet(
                f"`train_neuron` returned {describe(result)}; it should return "
                "`w, b, losses` as the starter code does."
            )
        losses = result[2]
        try:
            losses = [float(v) for v in losses]
        except (TypeError, ValueError):
            raise NotYet(
                f"`losses` is {describe(losses)}; want a list of floats."
            ) from None
        if len(losses) != len(want):
            raise NotYet(f"30 steps gave {len(losses)} losses; want one per step.")
        if not all(
            math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6) for a, b in zip(losses, want)
        ):
            raise NotYet(
                f"With lr = {lr} the loss after 30 steps is {losses[-1]:.3g}; plain "
                f"gradient descent gets to {want[-1]:.3g}. Without clearing, step k "
                "uses the sum of the gradients of steps 1 to k: call "
                "`optimizer.zero_grad()` in every step, before `backward()`."
            )
    return f"With lr = 0.3 the loss falls to {want[-1]:.3g} in 30 steps."


# --- Exercise 5: finite differences --------------------------------------------------


@registry.exercise("finite_differences")
def _finite_differences(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        t = torch.rand(5, 1, dtype=torch.float64) * 2 - 1

    def f(w: torch.Tensor) -> torch.Tensor:
        return (w**3).sum() + (w.sin() * 2).prod()

    tracked = t.clone().requires_grad_()
    (want,) = torch.autograd.grad(f(tracked), tracked)
    got = answers.call("numerical_gradient", _Named("f", f), t.clone())
    if not isinstance(got, torch.Tensor):
        raise NotYet(
            f"`numerical_gradient` returned {describe(got)}; want a tensor of the "
            "input's shape."
        )
    got = got.detach()
    if tuple(got.shape) != tuple(t.shape):
        raise NotYet(
            f"For t of shape (5, 1) the result is {describe(got)}; want shape (5, 1), "
            "one partial derivative per element of t."
        )
    if got.dtype != torch.float64:
        raise NotYet(
            f"The result is {got.dtype}; keep float64 (use `torch.zeros_like(t)`), or "
            "the rounding error swamps the estimate."
        )
    error = (got - want).abs().max().item()
    if error > 1e-7:
        hint = (
            "Close, but not central differences: use (f(t + ε) - f(t - ε)) / (2ε), "
            "whose error shrinks like ε² instead of ε."
            if error < 1e-4
            else "Change one element at a time by ±eps and divide the difference of "
            "the two values of f by 2·eps."
        )
        raise NotYet(
            f"The estimate differs from autograd's gradient by up to {error:.1e}. "
            + hint
        )
    return f"Largest difference from autograd: {error:.0e}."
