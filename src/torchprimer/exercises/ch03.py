"""Checks for the exercises of chapter 03
(notebooks/exercises/03_building_models_*.ipynb)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest.mock import patch

import torch
import torch.nn.functional as F
from torch import nn

from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    attempt,
    describe,
    parameter_count,
)
from torchprimer.models import MLP

registry = Registry("03")
check = registry.check


def _module(model: Any, name: str) -> nn.Module:
    """A learner's model: an initialised nn.Module."""
    if not isinstance(model, nn.Module):
        raise NotYet(f"`{name}` is {describe(model)}; it should be an nn.Module.")
    if "_parameters" not in vars(model):
        raise NotYet(
            f"`{name}` is not set up as a module yet: in `__init__`, call "
            "`super().__init__()` first, then create the layers."
        )
    return model


def _int(value: Any, name: str) -> int:
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NotYet(f"`{name}` should be a whole number, not {describe(value)}.")
    return int(value)


@registry.exercise("predict_parameters")
def _predict_parameters(answers: Answers) -> str:
    count = _int(answers.get("predicted_num_params"), "predicted_num_params")
    weights = 784 * 64 + 64 * 64 + 64 * 10
    biases = 64 + 10
    hints = {
        weights: "Every `nn.Linear` made with `bias=True` (the default) also has "
        "`out_features` biases.",
        weights + biases + 64: "`model[3]` was made with `bias=False`: it has no "
        "biases.",
    }
    if count != weights + biases:
        hint = hints.get(
            count,
            "Count layer by layer: `nn.Linear(n_in, n_out)` has n_in · n_out "
            "weights plus n_out biases, unless `bias=False`; `nn.Flatten` and "
            "`nn.ReLU` have none.",
        )
        raise NotYet(f"`predicted_num_params` is {count}. {hint}")
    shape = answers.get("predicted_weight_shape")
    try:
        if isinstance(shape, str | torch.Tensor):
            raise TypeError
        shape = tuple(int(size) for size in shape)
    except (TypeError, ValueError):
        raise NotYet(
            "`predicted_weight_shape` should be a shape such as `(3, 5)`, not "
            f"{describe(shape)}."
        ) from None
    if shape == (784, 64):
        raise NotYet(
            "`predicted_weight_shape` is (784, 64), but `nn.Linear(in_features, "
            "out_features)` stores its weight as (out_features, in_features): output "
            "first, and the layer computes `x @ W.T + b`."
        )
    if shape != (64, 784):
        raise NotYet(
            f"`predicted_weight_shape` is {shape}; `model[1]` is "
            "`nn.Linear(28 * 28, 64)`."
        )
    return "50,240 + 4,096 + 650 = 54,986 parameters; the weight is (out, in)."


@registry.exercise("small_mlp")
def _small_mlp(answers: Answers) -> str:
    with torch.random.fork_rng(devices=[]):  # the same weights on every run
        torch.manual_seed(0)
        model = answers.call("SmallMLP", 12, 5, 3)
        X = torch.randn(64, 1, 3, 4)
    model = _module(model, "SmallMLP(12, 5, 3)")
    expected = 12 * 5 + 5 + 5 * 3 + 3
    found = parameter_count(model)
    if found == 0:
        raise NotYet(
            "`SmallMLP(12, 5, 3)` has no parameters: create its layers in `__init__` "
            "and assign them to attributes, such as `self.layers = nn.Sequential(...)`."
        )
    if found != expected:
        raise NotYet(
            f"`SmallMLP(12, 5, 3)` has {found} parameters; Flatten, Linear(12, 5), "
            f"ReLU, Linear(5, 3) have {expected}."
        )
    try:
        logits = attempt("SmallMLP(12, 5, 3)(X)", model, X)
    except NotYet as exc:
        raise NotYet(f"{exc} (X has shape (64, 1, 3, 4).)") from None
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (64, 3):
        raise NotYet(
            f"For X of shape (64, 1, 3, 4) the model returns {describe(logits)}; "
            "want logits of shape (64, 3): flatten each example to 12 numbers first."
        )
    if torch.allclose(logits.sum(dim=1), torch.ones(64)):
        raise NotYet(
            "Every row of the output sums to 1: `forward` returns probabilities. "
            "Return the logits, without a softmax (`nn.CrossEntropyLoss` applies "
            "`log_softmax` itself)."
        )
    if (logits >= 0).all() and (logits == 0).any():
        raise NotYet(
            "No logit is negative: is there a ReLU after the last layer? Logits are "
            "raw scores, any real numbers."
        )
    with torch.no_grad():
        a, b = X[:32], X[32:]
        gap = model(a) + model(b) - model(a + b) - model(torch.zeros_like(a))
    if gap.abs().max() < 1e-5:
        raise NotYet(
            "The model is a linear (affine) function of its input: put an `nn.ReLU` "
            "between the two `nn.Linear` layers."
        )
    count = _int(answers.call("count_parameters", model), "count_parameters(model)")
    if count != expected:
        raise NotYet(
            f"`count_parameters(SmallMLP(12, 5, 3))` is {count}; want {expected}. "
            "Add up `param.numel()` over `model.parameters()`."
        )
    mlp = _int(answers.call("count_parameters", MLP()), "count_parameters(MLP())")
    if mlp != 111_146:
        raise NotYet(f"`count_parameters(MLP())` is {mlp}; want 111,146.")
    default = parameter_count(_module(answers.call("SmallMLP"), "SmallMLP()"))
    return f"SmallMLP() has {default:,} parameters, MLP() 111,146."


_MEAN, _STD = (0.5, 0.4, 0.3), (0.2, 0.25, 0.5)


@registry.exercise("buffers")
def _buffers(answers: Answers) -> str:
    shown = "Standardize(mean=(0.5, 0.4, 0.3), std=(0.2, 0.25, 0.5))"
    layer = _module(answers.call_as("Standardize", shown, _MEAN, _STD), shown)
    params = [name for name, _ in layer.named_parameters()]
    if params:
        raise NotYet(
            f"`{shown}` has parameters {params}: an optimizer would train the "
            "constants. Keep them out of `parameters()`: register them with "
            "`self.register_buffer(name, tensor)`."
        )
    buffers = dict(layer.named_buffers())
    if not {"mean", "std"} <= set(buffers):
        found = f"the buffers {sorted(buffers)}" if buffers else "no buffers"
        raise NotYet(
            f"`{shown}` has {found}; want `mean` and `std`. A plain tensor attribute "
            "is not tracked by the module: register each one with "
            "`self.register_buffer(name, tensor)`."
        )
    saved = set(layer.state_dict())
    if not {"mean", "std"} <= saved:
        raise NotYet(
            f"`state_dict()` holds {sorted(saved)}: the constants would not be saved "
            "with the model. Leave `persistent` at its default, `True`."
        )
    shapes = {name: tuple(buffers[name].shape) for name in ("mean", "std")}
    if set(shapes.values()) != {(3, 1, 1)}:
        raise NotYet(
            f"The buffers have the shapes {shapes}; keep the (C, 1, 1) shape that "
            "`__init__` makes, so that they broadcast over (N, C, H, W)."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        X = torch.rand(2, 3, 4, 4)
    mean = torch.tensor(_MEAN).view(-1, 1, 1)
    std = torch.tensor(_STD).view(-1, 1, 1)
    out = attempt(f"{shown}(X)", layer, X)
    if not isinstance(out, torch.Tensor) or not torch.allclose(out, (X - mean) / std):
        raise NotYet(
            f"For X of shape (2, 3, 4, 4) the layer returns {describe(out)}, not "
            "(X - mean) / std channel by channel."
        )
    attempt("layer.to(torch.float64)", layer.to, torch.float64)
    moved = {name: buffer.dtype for name, buffer in layer.named_buffers()}
    if moved.get("mean") != torch.float64 or moved.get("std") != torch.float64:
        raise NotYet(f"After `.to(torch.float64)` the buffers are {moved}.")
    out = attempt(f"{shown}(X.double())", layer, X.double())
    if out.dtype != torch.float64:
        raise NotYet("After `.to(torch.float64)` the output is not float64.")
    return "`mean` and `std` move with `.to()` and are saved, but never trained."


_BUILT_IN = "this exercise asks you to write the leaky ReLU with tensor operations"


@contextmanager
def _without_built_in_prelu() -> Iterator[None]:
    """While the learner's layer runs, PyTorch's PReLU and leaky ReLU raise."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise NotYet(
            f"Your layer calls PyTorch's own PReLU or leaky ReLU; {_BUILT_IN} "
            "(`torch.clamp`, `torch.where`, arithmetic)."
        )

    targets = [
        (F, "prelu"),
        (F, "leaky_relu"),
        (torch, "prelu"),
        (torch.Tensor, "prelu"),
        (nn.PReLU, "forward"),
        (nn.LeakyReLU, "forward"),
    ]
    with ExitStack() as stack:
        for owner, name in targets:
            stack.enter_context(patch.object(owner, name, refuse))
        yield


@registry.exercise("learnable_slope")
def _learnable_slope(answers: Answers) -> str:
    shown = "LearnableLeakyReLU(3, init=0.1)"
    layer = _module(answers.call_as("LearnableLeakyReLU", shown, 3, init=0.1), shown)
    params = dict(layer.named_parameters())
    if "slope" not in params:
        found = f"the parameters {sorted(params)}" if params else "no parameters"
        raise NotYet(
            f"`{shown}` has {found}; want one named `slope`. Assign "
            "`self.slope = nn.Parameter(...)`: a plain tensor is not registered, so an "
            "optimizer would never train it."
        )
    slope = params["slope"]
    if not slope.requires_grad:
        raise NotYet(
            "`slope` has `requires_grad=False`, so it would never be trained; "
            "`nn.Parameter` sets it to True unless you say otherwise."
        )
    if tuple(slope.shape) != (3,):
        raise NotYet(
            f"`slope` has shape {tuple(slope.shape)}; want (3,), one per feature."
        )
    if not torch.allclose(slope.detach().float(), torch.full((3,), 0.1)):
        raise NotYet(
            f"`slope` starts at {[round(v, 3) for v in slope.tolist()]}; every entry "
            "should be `init`, here 0.1 (`torch.full`)."
        )
    default = _module(answers.call("LearnableLeakyReLU", 5), "LearnableLeakyReLU(5)")
    start = dict(default.named_parameters()).get("slope")
    if start is None or not torch.allclose(
        start.detach().float(), torch.full((5,), 0.25)
    ):
        raise NotYet("`LearnableLeakyReLU(5)` should start with every slope at 0.25.")
    with torch.no_grad():
        slope.copy_(torch.tensor([0.1, 0.2, 0.3]))
    X = torch.tensor([[-2.0, 1.0, -1.0], [3.0, -4.0, 0.5], [-1.0, -1.0, -1.0]])
    want = torch.where(X > 0, X, torch.tensor([0.1, 0.2, 0.3]) * X)
    with _without_built_in_prelu():
        out = attempt("layer(X)", layer, X)
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, 3):
        raise NotYet(
            f"For X of shape (3, 3) the layer returns {describe(out)}; want the "
            "same shape as X."
        )
    if torch.allclose(
        out, torch.where(X > 0, X, torch.tensor([[0.1], [0.2], [0.3]]) * X)
    ):
        raise NotYet(
            "Each *row* got its own slope: the features are the last dimension, and a "
            "(num_features,) slope broadcasts along it as it is."
        )
    if not torch.allclose(out, want):
        raise NotYet(
            f"With slopes (0.1, 0.2, 0.3) the layer maps {X.tolist()} to "
            f"{[[round(v, 3) for v in row] for row in out.tolist()]}; want "
            f"{want.tolist()}: x where x > 0, slope * x elsewhere."
        )
    if out.requires_grad:
        out.sum().backward()
    if slope.grad is None:
        raise NotYet(
            "No gradient reached `slope`: compute the output from `self.slope` "
            "without `.detach()`, `.item()` or `torch.no_grad()`."
        )
    grad = torch.clamp(X, max=0).sum(dim=0)
    if not torch.allclose(slope.grad, grad):
        raise NotYet(f"`slope.grad` is {slope.grad.tolist()}; want {grad.tolist()}.")
    model = nn.Sequential(nn.Linear(4, 3), layer, nn.Linear(3, 2))
    count = parameter_count(model)
    return (
        f"Inside `nn.Sequential(nn.Linear(4, 3), layer, nn.Linear(3, 2))` the slopes "
        f"are 3 of its {count} parameters; PyTorch's version is `nn.PReLU(3)`."
    )


@registry.exercise("logits_to_classes")
def _logits_to_classes(answers: Answers) -> str:
    logits = torch.tensor(
        [
            [2.0, 0.5, -1.0, 0.0, 1.0],
            [-3.0, 4.0, 0.0, 1.0, 2.0],
            [0.0, 0.0, 5.0, -2.0, 1.0],
        ]
    )
    result = answers.call("predict", logits.clone())
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise NotYet(
            f"`predict(logits)` returned {describe(result)}; it should return two "
            "tensors, `(pred, confidence)`."
        )
    pred, confidence = (torch.as_tensor(value) for value in result)
    probs = torch.softmax(logits, dim=1)
    if pred.shape == ():
        raise NotYet(
            "`pred` is a single number: `argmax()` without `dim` looks at the "
            "flattened tensor. Use `dim=1`, one prediction per row."
        )
    if tuple(pred.shape) == (5,):
        raise NotYet(
            "`pred` has 5 entries for 3 rows: `dim=0` compares the rows of each "
            "column. The classes are along dimension 1: use `dim=1`."
        )
    if pred.is_floating_point() and torch.allclose(pred, probs.max(dim=1).values):
        raise NotYet(
            "`pred` holds the probabilities: `max(dim=1)` returns `(values, "
            "indices)`, in that order."
        )
    if tuple(pred.shape) != (3,) or pred.is_floating_point():
        raise NotYet(
            f"`pred` is {describe(pred)}; want an int64 tensor of shape (3,), the "
            "index of the largest logit in each row."
        )
    if pred.tolist() != [0, 1, 2]:
        raise NotYet(f"`pred` is {pred.tolist()}; the largest logits are at [0, 1, 2].")
    if tuple(confidence.shape) != (3,):
        raise NotYet(
            f"`confidence` is {describe(confidence)}; want shape (3,), the "
            "probability of the predicted class of each row."
        )
    confidence = confidence.detach().float()
    want = probs.max(dim=1).values
    if torch.allclose(confidence, logits.max(dim=1).values):
        raise NotYet(
            "`confidence` holds the largest logits, which are scores, not "
            "probabilities: apply softmax along `dim=1` first."
        )
    if torch.allclose(confidence, torch.softmax(logits, dim=0).max(dim=1).values):
        raise NotYet(
            "`confidence` comes from a softmax along `dim=0`, which normalises "
            "across the batch. Normalise each row: `dim=1`."
        )
    if not torch.allclose(confidence, want, atol=1e-5):
        raise NotYet(
            f"`confidence` is {[round(v, 3) for v in confidence.tolist()]}; want "
            f"{[round(v, 3) for v in want.tolist()]}, each row's largest softmax "
            "probability."
        )
    return f"The first row is class 0 with probability {want[0].item():.2f}."


def _logits_stds(num_networks: int = 10) -> torch.Tensor:
    """The std of the logits of num_networks 9-layer MLPs with weights drawn from
    N(0, 1 / in_features) and zero biases. Without biases a ReLU network is positively
    homogeneous: scaling every weight by gain scales the logits by gain**9, so these
    numbers serve every gain."""
    stds = []
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(0)
        X = torch.randn(1000, 784)
        for _ in range(num_networks):
            model = MLP(hidden_sizes=(256,) * 8)
            for layer in model.layers:
                if isinstance(layer, nn.Linear):
                    nn.init.normal_(layer.weight, std=1 / layer.in_features**0.5)
                    nn.init.zeros_(layer.bias)
            stds.append(model(X).std())
    return torch.stack(stds)


def _positive(answers: Answers, name: str) -> float:
    value = answers.get(name)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise NotYet(f"`{name}` should be a positive number, not {describe(value)}.")
    return float(value)


@registry.exercise("init_gain")
def _init_gain(answers: Answers) -> str:
    predicted = _positive(answers, "predicted_logits_std")
    right = 0.5**4
    if abs(predicted - right) > 0.05 * right:
        hints = {
            0.5**8: "That is the mean square of the logits; the standard deviation "
            "is its square root.",
            0.5**4.5: "There is no ReLU after the ninth layer: the logits pass through "
            "eight ReLUs, not nine.",
            0.5
            ** 9: "There is no ReLU after the ninth layer, and the standard deviation "
            "is the square root of the mean square.",
            1.0: "A Linear layer with gain 1 keeps the mean square, but every ReLU "
            "halves it.",
        }
        hint = next(
            (
                text
                for value, text in hints.items()
                if abs(predicted - value) < 0.02 * value
            ),
            "Follow the mean square from the input (1): each `nn.Linear` with gain 1 "
            "keeps it, each of the eight ReLUs halves it; the standard deviation of "
            "the logits is the square root of what is left.",
        )
        raise NotYet(f"`predicted_logits_std` is {predicted:.4g}. {hint}")
    gain = _positive(answers, "gain")
    if abs(gain - 2**0.5) > 0.01:
        hint = (
            "Each ReLU halves the mean square and each `nn.Linear` multiplies it by "
            "`gain**2`: which gain makes `gain**2 / 2` equal to 1?"
        )
        if abs(gain - 2) < 0.01:
            hint = (
                "The layer multiplies the mean square by `gain**2`, not by `gain`: "
                "which gain makes `gain**2 / 2` equal to 1?"
            )
        raise NotYet(f"`gain` is {gain:.4g}. {hint}")
    stds = _logits_stds()
    rms = stds.pow(2).mean().sqrt().item()
    return (
        f"Measured over 10 such networks, the logits have a standard deviation of "
        f"{rms:.3f} with gain 1 (you predicted {predicted:.4f}) and "
        f"{rms * gain**9:.2f} with gain {gain:.3f}. `nn.init.kaiming_normal_` with "
        "`nonlinearity='relu'` uses gain √2."
    )
