"""Checks for the exercises of chapter 03
(notebooks/exercises/03_building_models_*.ipynb)."""

from __future__ import annotations

from typing import Any

import torch
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


@registry.exercise("register_layers")
def _register_layers(answers: Answers) -> str:
    sizes = (12, 7, 5, 3)
    model = _module(answers.call("DeepMLP", sizes), "DeepMLP((12, 7, 5, 3))")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        X = torch.randn(4, 12)
    logits = attempt("DeepMLP((12, 7, 5, 3))(X)", model, X)
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (4, 3):
        raise NotYet(
            f"For X of shape (4, 12) `DeepMLP((12, 7, 5, 3))` returns "
            f"{describe(logits)}; want logits of shape (4, 3)."
        )
    pairs = list(zip(sizes[:-1], sizes[1:]))
    expected = sum(n_in * n_out + n_out for n_in, n_out in pairs)
    tensors = list(model.parameters())
    found = sum(param.numel() for param in tensors)
    if found != expected:
        raise NotYet(
            f"`model.parameters()` yields {len(tensors)} tensors with {found} "
            f"numbers, but the model computes with {2 * len(pairs)} tensors and "
            f"{expected} numbers. The hidden layers sit in a plain Python list, which "
            "`nn.Module` does not register: an optimizer would never update them and "
            "`state_dict()` would not save them. Hold them in `nn.ModuleList`."
        )
    keys = list(model.state_dict())
    if len(keys) != 2 * len(pairs):
        raise NotYet(f"`state_dict()` has {len(keys)} entries; want {2 * len(pairs)}.")
    attempt("model.to(torch.float64)", model.to, torch.float64)
    out = attempt("model(X.double())", model, X.double())
    if out.dtype != torch.float64:
        raise NotYet("After `model.to(torch.float64)` the output is not float64.")
    return f"All {2 * len(pairs)} parameter tensors are registered."


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


def _logits_std(gain: float) -> float:
    """Std of the logits of a 9-layer MLP initialised with std gain / sqrt(n_in)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = MLP(hidden_sizes=(256,) * 8)
        for layer in model.layers:
            if isinstance(layer, nn.Linear):
                nn.init.normal_(layer.weight, std=gain / layer.in_features**0.5)
                nn.init.zeros_(layer.bias)
        X = torch.randn(1000, 784)
        with torch.no_grad():
            return model(X).std().item()


@registry.exercise("init_gain")
def _init_gain(answers: Answers) -> str:
    gain = answers.get("gain")
    if isinstance(gain, bool) or not isinstance(gain, int | float) or gain <= 0:
        raise NotYet(f"`gain` should be a positive number, not {describe(gain)}.")
    std = _logits_std(float(gain))
    if std < 0.5:
        raise NotYet(
            f"With gain = {gain:.3g} the logits have std {std:.3g}: the signal still "
            "shrinks from layer to layer. Try a larger gain."
        )
    if std > 2:
        raise NotYet(
            f"With gain = {gain:.3g} the logits have std {std:.3g}: the signal grows "
            "from layer to layer. Try a smaller gain."
        )
    return (
        f"With gain = {gain:.3g} the logits have std {std:.2f}. `kaiming_normal_` with "
        "`nonlinearity='relu'` uses gain √2 ≈ 1.41."
    )
