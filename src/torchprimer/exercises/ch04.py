"""Checks for the exercises of chapter 04
(notebooks/exercises/04_autograd_*.ipynb)."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.autograd.forward_ad as forward_ad
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


@contextlib.contextmanager
def _shortcuts_refused(
    learner: Any, shortcuts: list[tuple[Any, str]], asks: str
) -> Iterator[None]:
    """While the learner's function runs, each ``module.attr`` in ``shortcuts``, and
    any name in the learner's globals bound to the same function, raises NotYet."""
    originals = [(module, attr, getattr(module, attr)) for module, attr in shortcuts]

    def refusing(shown: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            raise NotYet(f"Your function calls `{shown}`. {asks}")

        return refuse

    replaced: list[tuple[Any, str, Any]] = []
    try:
        for module, attr, original in originals:
            shown = f"{module.__name__}.{attr}"
            replaced.append((module, attr, original))
            setattr(module, attr, refusing(shown))
            namespace = getattr(learner, "__globals__", None)
            for key, value in list((namespace or {}).items()):
                if value is original:
                    replaced.append((namespace, key, original))
                    namespace[key] = refusing(shown)
        yield
    finally:
        for target, key, original in reversed(replaced):
            if isinstance(target, dict):
                target[key] = original
            else:
                setattr(target, key, original)


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
    w_grad = _numbers(answers.get("predicted_w_grad"), "predicted_w_grad", 3)
    b_grad = _numbers(answers.get("predicted_b_grad"), "predicted_b_grad", 1)
    x_grad = answers.get("predicted_x_grad")
    x = torch.tensor([[2.0, 1.0, 0.5]])
    w = torch.tensor([[1.0], [-2.0], [3.0]], requires_grad=True)
    b = torch.tensor([0.5], requires_grad=True)
    z = x @ w + b  # 2.0, so dL/dz = 2(z - y) = 2
    ((z - 1.0) ** 2).sum().backward()  # what the exercise's backward() would do
    want_w, want_b = w.grad.flatten().tolist(), b.grad.tolist()
    if _close(w_grad, x.flatten().tolist()):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}, which is x: that is ∂z/∂w. The loss "
            "squares (z - y), so the chain rule multiplies by ∂L/∂z = 2(z - y) too."
        )
    if _close(w_grad, [-v for v in want_w]):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}: the sign is flipped. ∂L/∂z = 2(z - y); "
            "is z above or below y = 1 here?"
        )
    if not _close(w_grad, want_w):
        raise NotYet(
            f"`predicted_w_grad` is {w_grad}. Work it out in two steps: z = x·w + b "
            "(what is z here?), then ∂L/∂w_i = 2(z - y)·x_i."
        )
    if not _close(b_grad, want_b):
        raise NotYet(
            f"`predicted_b_grad` is {b_grad[0]:g}. ∂z/∂b = 1, so ∂L/∂b = 2(z - y)."
        )
    if x_grad is not None:
        raise NotYet(
            f"`predicted_x_grad` is {describe(x_grad)}. `x` was created without "
            "`requires_grad=True`: backward() fills `.grad` only for leaves that "
            "require gradients, and `x.grad` stays None."
        )
    return (
        f"z = {z.item():g}, so ∂L/∂z = 2; backward() gives w.grad = 2·x = "
        f"{[round(v, 4) for v in want_w]}, b.grad = {want_b[0]:g}, and x.grad is None."
    )


# --- Exercise 2: a loss that keeps its gradient ------------------------------------


def _bce_case(
    answers: Answers, z_values: list[float], y_values: list[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """The learner's loss for these logits and targets, and z.grad after backward()."""
    z = torch.tensor(z_values, requires_grad=True)
    loss = answers.call("bce_by_hand", z, torch.tensor(y_values))
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise NotYet(
            f"`bce_by_hand(z, y)` returned {describe(loss)}; want the loss, a tensor "
            "with one number."
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
        if "inplace operation" not in first:
            raise NotYet(f"backward() fails: {first}.") from None
        raise NotYet(
            f"backward() fails: {first}. A tensor that autograd saved for the "
            "backward pass was changed in place: `sigmoid` saves its output `p`, and "
            "`clamp_` changes `p`. An out-of-place clamp would make backward() run: "
            "look at what it does to the gradient at z = 30 before you settle for it."
        ) from None
    if z.grad is None:
        raise NotYet("backward() runs, but z.grad stays None.")
    return loss.detach().double(), z.grad.double()


@registry.exercise("bce_keeps_gradient")
def _bce_keeps_gradient(answers: Answers) -> str:
    shown = "binary_cross_entropy_with_logits"
    from_z = (
        "Compute the logs from the logits themselves: log σ(z) = "
        "`nn.functional.logsigmoid(z)`, log(1 - σ(z)) = `logsigmoid(-z)` (or use "
        f"`nn.functional.{shown}`)."
    )
    for z_values, y_values in (
        ([2.0, -1.0, 0.5, -3.0], [1.0, 0.0, 0.0, 1.0]),
        ([30.0, 100.0, -100.0], [0.0, 0.0, 1.0]),
    ):
        loss, grad = _bce_case(answers, z_values, y_values)
        z, y = torch.tensor(z_values, dtype=torch.float64), torch.tensor(y_values)
        want = nn.functional.binary_cross_entropy_with_logits(z, y.double())
        want_grad = (torch.sigmoid(z) - y) / len(y)
        what = f"For z = {z_values} and y = {y_values}"
        if not torch.isfinite(loss):
            alone = _non_finite_alone(answers, z_values, y_values)
            raise NotYet(
                f"{what} the loss is {loss.item()}{alone}: somewhere a value "
                "overflowed or a log got 0. In float32, exp(z) overflows to inf above "
                "z ≈ 88.7; σ(z) rounds to exactly 1.0 from z ≈ 17, so log(1 - σ(z)) "
                f"= log 0 = -inf, and to 0.0 far below 0, so log σ(z) = -inf. {from_z}"
            )
        if not torch.isfinite(grad).all():
            raise NotYet(
                f"{what} the loss is finite, but z.grad is {grad.tolist()}: a "
                f"backward step divided by 0 or by inf. {from_z}"
            )
        loss_ok = math.isclose(loss.item(), want.item(), rel_tol=1e-4, abs_tol=1e-5)
        grad_ok = torch.allclose(grad, want_grad, rtol=1e-4, atol=1e-5)
        if loss_ok and grad_ok:
            continue
        got_grad = [round(g, 4) for g in grad.tolist()]
        want_text = [round(g, 4) for g in want_grad.tolist()]
        if len(y_values) == 4:
            raise NotYet(
                f"{what} the loss is {loss.item():.4f} (want {want.item():.4f}, what "
                f"{shown} gives) and z.grad is {got_grad} (want (σ(z) - y) / N = "
                f"{want_text})."
            )
        if (grad.abs() < 1e-6).any():
            raise NotYet(
                f"{what} the loss is {loss.item():.2f}, not {want.item():.2f}, and "
                f"z.grad is {got_grad} instead of about {want_text}: no gradient "
                "reaches the predictions that are most wrong, so they learn nothing. "
                "Anything computed from σ(z) loses it there: in float32 σ(30) rounds "
                "to 1.0, where the derivative σ(z)(1 - σ(z)) is 0, and a clamp "
                f"passes no gradient where it clips. {from_z}"
            )
        raise NotYet(
            f"{what} the loss is {loss.item():.2f} (want {want.item():.2f}) and "
            f"z.grad is {got_grad} (want about {want_text}). {from_z}"
        )
    return (
        "Working from the logit itself (`logsigmoid`, or "
        "`binary_cross_entropy_with_logits`, which does the same), no probability is "
        "rounded to 1.0 and no clamp cuts the gradient of the most wrong predictions."
    )


def _non_finite_alone(
    answers: Answers, z_values: list[float], y_values: list[float]
) -> str:
    """Which logits, each on its own, give a loss that is not finite: ' (z = 100.0
    alone gives inf)', or '' when the single logits cannot tell."""
    found = []
    for z_value, y_value in zip(z_values, y_values):
        z = torch.tensor([z_value], requires_grad=True)
        try:
            loss = answers.call("bce_by_hand", z, torch.tensor([y_value]))
            value = float(loss.detach().reshape(()))
        except (NotYet, TypeError, RuntimeError, ValueError):
            return ""
        if not math.isfinite(value):
            found.append(f"z = {z_value} alone gives {value}")
    return f" ({'; '.join(found)})" if found else ""


# --- Exercise 3: a Jacobian from vector-Jacobian products --------------------------


def _f_small(t: torch.Tensor) -> torch.Tensor:
    return torch.stack([t[0] * t[1], t.sin().sum(), t[2] ** 3])


_JACOBIAN_SHORTCUTS = [
    (torch.autograd.functional, "jacobian"),
    (torch.func, "jacrev"),
    (torch.func, "jacfwd"),
]
_FORWARD_MODE = [
    (forward_ad, "make_dual"),
    (torch.func, "jvp"),
    (torch.func, "linearize"),
    (torch.autograd.functional, "jvp"),
]
_ROWS_NOT_COLUMNS = (
    "A Jacobian-vector product gives a column of J; the exercise asks for its rows, "
    "one vector-Jacobian product (`out.backward(v)` with a one-hot v) per output "
    "element, as `backward()` computes them."
)


def _reverse_mode_only(f: Callable[[torch.Tensor], torch.Tensor]) -> _Named:
    """f, refusing an input that carries a forward-mode tangent."""

    def checked(t: torch.Tensor) -> torch.Tensor:
        if forward_ad.unpack_dual(t).tangent is not None:
            raise NotYet(f"Your function runs f on a dual tensor. {_ROWS_NOT_COLUMNS}")
        return f(t)

    return _Named("f", checked)


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
    asks = (
        "The exercise asks you to build J yourself, one vector-Jacobian product "
        "(`out.backward(v)` with a one-hot v) per row, not to call a function that "
        "builds it."
    )
    for what, f, inp in cases:
        want = torch.autograd.functional.jacobian(f, inp)
        m, n = want.shape
        learner = answers.get("jacobian_from_vjps")
        with (
            _shortcuts_refused(learner, _JACOBIAN_SHORTCUTS, asks),
            _shortcuts_refused(learner, _FORWARD_MODE, _ROWS_NOT_COLUMNS),
        ):
            got = answers.call("jacobian_from_vjps", _reverse_mode_only(f), inp.clone())
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


# --- Exercise 4: gradient accumulation over micro-batches --------------------------


def _accumulation_case(rows: int) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rows)
        model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
        X, y = torch.randn(rows, 3), torch.randn(rows, 1)
    return model, X, y


def _weighted_grads(
    model: nn.Module, X: torch.Tensor, y: torch.Tensor, size: int, weights: list[float]
) -> list[torch.Tensor]:
    """The gradients of sum_k weights[k] * (mean loss of micro-batch k)."""
    loss_fn = nn.MSELoss()
    pieces = zip(X.split(size), y.split(size), weights)
    total = sum(weight * loss_fn(model(Xk), yk) for Xk, yk, weight in pieces)
    return list(torch.autograd.grad(total, list(model.parameters())))


def _all_close(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return all(torch.allclose(x, y, rtol=1e-4, atol=1e-6) for x, y in zip(a, b))


def _record_passes(model: nn.Module, seen: list[int], events: list[str]) -> list[Any]:
    """Hooks that note each forward pass of model (and its rows) and each backward
    pass that reaches its first parameter."""

    def on_forward(module: nn.Module, args: tuple[Any, ...]) -> None:
        seen.append(len(args[0]))
        events.append("forward")

    first = next(iter(model.parameters()))
    return [
        model.register_forward_pre_hook(on_forward),
        first.register_hook(lambda grad: events.append("backward")),
    ]


@registry.exercise("accumulate_micro_batches")
def _accumulate_micro_batches(answers: Answers) -> str:
    loss_fn = nn.MSELoss()
    for rows, size in ((10, 4), (7, 3)):
        model, X, y = _accumulation_case(rows)
        params = list(model.parameters())
        counts = [len(piece) for piece in X.split(size)]
        want = _weighted_grads(model, X, y, size, [c / rows for c in counts])
        per_batch = _weighted_grads(model, X, y, size, [1 / len(counts)] * len(counts))
        unweighted = _weighted_grads(model, X, y, size, [1.0] * len(counts))
        with torch.no_grad():
            want_loss = loss_fn(model(X), y).item()
        for param in params:  # as if left over from an earlier step
            param.grad = torch.full_like(param, 0.5)
        seen: list[int] = []  # the rows of each forward pass
        events: list[str] = []  # "forward" and "backward", in the order they ran
        hooks = _record_passes(model, seen, events)
        try:
            result = answers.call("accumulate_gradients", model, loss_fn, X, y, size)
        finally:
            for hook in hooks:
                hook.remove()
        what = f"For {rows} rows in micro-batches of {size} ({counts} rows)"
        if seen and max(seen) > size:
            raise NotYet(
                f"{what}, a forward pass saw {max(seen)} rows. No forward pass may see "
                f"more than micro_batch_size = {size}: the whole point is that the "
                "whole batch never goes through the model at once."
            )
        if sum(seen) != rows:
            raise NotYet(
                f"{what}, the forward passes saw {sum(seen)} rows in all; want each "
                f"of the {rows} rows once."
            )
        if events != ["forward", "backward"] * len(counts):
            order = ", ".join(events)
            raise NotYet(
                f"{what}, backward() ran {events.count('backward')} time(s) for "
                f"{len(seen)} forward passes ({order}). Call backward() on each "
                "micro-batch's loss right after its forward pass: until then that "
                "micro-batch's graph and the activations it saved stay in memory, so "
                "running every forward pass first (then one backward() on concatenated "
                "outputs or a sum of losses, or one per stored loss) holds every graph "
                "at once, which is what accumulation avoids."
            )
        got = [param.grad for param in params]
        if any(g is None for g in got):
            raise NotYet(f"{what}, some `.grad` is None after the call.")
        if _all_close(got, [g + 0.5 for g in want]):
            raise NotYet(
                f"{what}, `.grad` still holds what was there before the call: start "
                "with `model.zero_grad()`, as the starter code does."
            )
        if _all_close(got, per_batch):
            raise NotYet(
                f"{what}, each micro-batch's loss counts 1/{len(counts)}, but "
                f"`loss_fn` already averages over the rows of its micro-batch, and the "
                f"last one has only {counts[-1]} rows: its rows count more than the "
                "others. Weight each micro-batch's loss by its share of the rows, "
                "len(X_micro) / len(X)."
            )
        if _all_close(got, unweighted):
            raise NotYet(
                f"{what}, `.grad` is the sum of the micro-batches' mean-loss "
                f"gradients, about {len(counts)} times too large. Weight each "
                "micro-batch's loss by its share of the rows, len(X_micro) / len(X)."
            )
        if not _all_close(got, want):
            raise NotYet(
                f"{what}, `.grad` differs from the gradient of the whole batch's mean "
                "loss. Each micro-batch's loss should count by its share of the rows."
            )
        try:
            got_loss = float(result)
        except (TypeError, ValueError, RuntimeError):
            raise NotYet(
                f"`accumulate_gradients` returned {describe(result)}; want the mean "
                "loss over the whole batch, a number."
            ) from None
        if not math.isclose(got_loss, want_loss, rel_tol=1e-4, abs_tol=1e-6):
            raise NotYet(
                f"{what}, the gradients are right, but the returned loss is "
                f"{got_loss:.4f}; the whole batch's mean loss is {want_loss:.4f}."
            )
    return (
        "A micro-batch of k rows out of N counts k/N: the weighted losses add up to "
        "the mean over the whole batch, whatever the sizes."
    )


# --- Exercise 5: finite differences --------------------------------------------------


_GRADCHECK = sys.modules["torch.autograd.gradcheck"]
_NUMERICAL_SHORTCUTS = [
    (_GRADCHECK, "get_numerical_jacobian"),
    (_GRADCHECK, "get_numerical_jacobian_wrt_specific_input"),
]


def _values_only(w: torch.Tensor) -> None:
    """Refuse an input that autograd (reverse or forward mode) is tracking."""
    if w.requires_grad or forward_ad.unpack_dual(w).tangent is not None:
        raise NotYet(
            "`numerical_gradient` handed f a tensor that autograd tracks: the "
            "exercise asks you to estimate the gradient from values of f alone, "
            "f(t + ε e_i) and f(t - ε e_i), as gradcheck does, not to ask autograd "
            "for it."
        )


@registry.exercise("finite_differences")
def _finite_differences(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(2)
        inputs = [
            torch.rand(shape, dtype=torch.float64) * 2 - 1 for shape in ((5, 1), (2, 3))
        ]

    def f(w: torch.Tensor) -> torch.Tensor:
        return (w**3).sum() + (w.sin() * 2).prod()

    def f_values(w: torch.Tensor) -> torch.Tensor:
        _values_only(w)
        return f(w)

    learner = answers.get("numerical_gradient")
    asks = "The exercise asks you to write the central differences yourself."
    errors = []
    for t in inputs:
        shape = tuple(t.shape)
        tracked = t.clone().requires_grad_()
        (want,) = torch.autograd.grad(f(tracked), tracked)
        with _shortcuts_refused(learner, _NUMERICAL_SHORTCUTS, asks):
            got = answers.call("numerical_gradient", _Named("f", f_values), t.clone())
        if not isinstance(got, torch.Tensor):
            raise NotYet(
                f"`numerical_gradient` returned {describe(got)}; want a tensor of the "
                "input's shape."
            )
        got = got.detach()
        if tuple(got.shape) != shape:
            raise NotYet(
                f"For t of shape {shape} the result is {describe(got)}; want shape "
                f"{shape}, one partial derivative per element of t."
            )
        if got.dtype != torch.float64:
            raise NotYet(
                f"The result is {got.dtype}; keep float64 (use `torch.zeros_like(t)`), "
                "or the rounding error swamps the estimate."
            )
        error = (got - want).abs().max().item()
        if error > 1e-7:
            if error < 1e-4:
                hint = (
                    "Close, but not central differences: use (f(t + ε) - f(t - ε)) "
                    "/ (2ε), whose error shrinks like ε² instead of ε."
                )
            else:
                hint = (
                    "Change one element at a time by ±eps, all t.numel() of them (a "
                    "row of a 2-D t holds several; a flat view such as "
                    "`step.view(-1)[i]` reaches each one), and divide the difference "
                    "of the two values of f by 2·eps."
                )
            raise NotYet(
                f"For t of shape {shape} the estimate differs from autograd's "
                f"gradient by up to {error:.1e}. {hint}"
            )
        errors.append(error)
    return f"Largest difference from autograd: {max(errors):.0e}."
