"""Checks for the exercises of chapter 03
(notebooks/exercises/03_building_models_*.ipynb)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    attempt,
    describe,
    parameter_count,
    whole_number,
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


@registry.exercise("predict_parameters")
def _predict_parameters(answers: Answers) -> str:
    count = whole_number(answers.get("predicted_num_params"), "predicted_num_params")
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


def _small_mlp_class(answers: Answers) -> None:
    cls = answers.get("SmallMLP")
    if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
        raise NotYet(
            f"`SmallMLP` is a {type(cls).__name__}; it should be a class that "
            "subclasses `nn.Module`: `class SmallMLP(nn.Module):`."
        )


def _linear_pair(model: nn.Module) -> tuple[nn.Linear, nn.Linear]:
    """The Linear(12, 5) and the Linear(5, 3) of SmallMLP(12, 5, 3)."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    sizes = sorted((m.in_features, m.out_features) for m in linears)
    if sizes != [(5, 3), (12, 5)]:
        raise NotYet(
            f"`SmallMLP(12, 5, 3)` holds the `nn.Linear` layers {sizes} (in, out); "
            "want two: (12, 5), then (5, 3)."
        )
    first = next(m for m in linears if m.in_features == 12)
    last = next(m for m in linears if m.in_features == 5)
    return first, last


@registry.exercise("small_mlp")
def _small_mlp(answers: Answers) -> str:
    _small_mlp_class(answers)
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
    first, last = _linear_pair(model)
    try:
        logits = attempt("SmallMLP(12, 5, 3)(X)", model, X.clone())
    except NotYet as exc:
        raise NotYet(f"{exc} (X has shape (64, 1, 3, 4).)") from None
    if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (64, 3):
        raise NotYet(
            f"For X of shape (64, 1, 3, 4) the model returns {describe(logits)}; "
            "want logits of shape (64, 3): flatten each example to 12 numbers first."
        )
    logits = logits.detach().double()
    with torch.no_grad():
        hidden = first(X.flatten(1))
        want = last(torch.relu(hidden)).double()
        wrong = {
            "softmax": torch.softmax(want, dim=1),
            "sigmoid": torch.sigmoid(want),
            "ReLU after the last layer": torch.relu(want),
            "tanh": last(torch.tanh(hidden)).double(),
            "ReLU before the first layer": last(
                torch.relu(first(torch.relu(X.flatten(1))))
            ).double(),
            "no ReLU": last(hidden).double(),
        }
    hints = {
        "softmax": "Every row of the output sums to 1: `forward` returns "
        "probabilities. Return the logits, without a softmax (`nn.CrossEntropyLoss` "
        "applies `log_softmax` itself).",
        "sigmoid": "The output went through a sigmoid. Return the logits as the last "
        "`nn.Linear` gives them: raw scores, any real numbers.",
        "ReLU after the last layer": "No logit is negative: is there a ReLU after the "
        "last layer? Logits are raw scores, any real numbers.",
        "tanh": "The hidden layer uses tanh; the exercise asks for `nn.ReLU`.",
        "ReLU before the first layer": "The ReLU comes before the first `nn.Linear`: "
        "it belongs between the two `nn.Linear` layers.",
        "no ReLU": "The model is a linear (affine) function of its input: put an "
        "`nn.ReLU` between the two `nn.Linear` layers.",
    }
    if not torch.allclose(logits, want, atol=1e-5):
        mistake = next(
            (k for k, v in wrong.items() if torch.allclose(logits, v, atol=1e-5)), None
        )
        raise NotYet(
            hints[mistake]
            if mistake
            else "For X of shape (64, 1, 3, 4) the output is not "
            "Linear(5, 3)(ReLU(Linear(12, 5)(X flattened))), computed with the "
            "model's own layers: Flatten, Linear, ReLU, Linear, in that order, and "
            "nothing else."
        )
    count = whole_number(
        answers.call("count_parameters", model), "count_parameters(model)"
    )
    if count != expected:
        raise NotYet(
            f"`count_parameters(SmallMLP(12, 5, 3))` is {count}; want {expected}. "
            "Add up `param.numel()` over `model.parameters()`."
        )
    mlp = whole_number(
        answers.call("count_parameters", MLP()), "count_parameters(MLP())"
    )
    if mlp != 111_146:
        raise NotYet(f"`count_parameters(MLP())` is {mlp}; want 111,146.")
    default = parameter_count(_module(answers.call("SmallMLP"), "SmallMLP()"))
    return f"SmallMLP() has {default:,} parameters, MLP() 111,146."


@registry.exercise("buffers")
def _buffers(answers: Answers) -> str:
    shown = "Standardize(3)"
    layer = _module(answers.call_as("Standardize", shown, 3), shown)
    params = [name for name, _ in layer.named_parameters()]
    if params:
        raise NotYet(
            f"`{shown}` has parameters {params}: `parameters()` would hand the "
            "constants to an optimizer. Keep them out of it: register them with "
            "`self.register_buffer(name, tensor)`."
        )
    buffers = dict(layer.named_buffers())
    if not {"mean", "std"} <= set(buffers):
        found = f"the buffers {sorted(buffers)}" if buffers else "no buffers"
        raise NotYet(
            f"A new `{shown}` has {found}; want `mean` and `std`. A plain tensor "
            "attribute is not tracked by the module: in `__init__`, register each "
            "one with `self.register_buffer(name, tensor)`, so that a new module "
            "has them too, ready to load saved values."
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
            f"The buffers of `{shown}` have the shapes {shapes}; keep the (C, 1, 1) "
            "shape, so that they broadcast over (N, C, H, W)."
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        images = torch.rand(50, 3, 4, 4) * torch.tensor([1.0, 2.0, 4.0]).view(-1, 1, 1)
        X = torch.rand(2, 3, 4, 4)
    mean = images.double().mean(dim=(0, 2, 3)).view(-1, 1, 1)
    std = images.double().std(dim=(0, 2, 3)).view(-1, 1, 1)
    attempt(f"{shown}.fit(images)", layer.fit, images)
    out = attempt(f"{shown}(X)", layer, X.clone())
    if not isinstance(out, torch.Tensor) or not torch.allclose(
        out.double(), (X.double() - mean) / std, atol=1e-5
    ):
        raise NotYet(
            f"After `fit(images)`, for X of shape (2, 3, 4, 4) the layer returns "
            f"{describe(out)}, not (X - mean) / std channel by channel with the "
            "statistics of `images`."
        )
    fresh = _module(answers.call_as("Standardize", shown, 3), shown)
    attempt(
        "new.load_state_dict(fitted.state_dict())",
        fresh.load_state_dict,
        layer.state_dict(),
    )
    loaded = attempt(f"{shown}(X) after load_state_dict", fresh, X.clone())
    if not torch.allclose(loaded.double(), out.double(), atol=1e-5):
        raise NotYet(
            "A new `Standardize(3)` that loads the fitted one's `state_dict()` "
            "computes something else: `forward` should use `self.mean` and `self.std`."
        )
    fresh.mean = torch.zeros(3, 1, 1)  # a tensor assigned to a buffer's name
    fresh.std = torch.full((3, 1, 1), 2.0)
    out = attempt(f"{shown}(X) with new buffer values", fresh, X.clone())
    if not torch.allclose(out.double(), X.double() / 2, atol=1e-5):
        raise NotYet(
            "Given new values in the buffers `mean` and `std`, the layer still "
            "computes the old output: `forward` should use `self.mean` and "
            "`self.std`, not copies kept elsewhere."
        )
    attempt("layer.to(torch.float64)", layer.to, torch.float64)
    moved = {name: buffer.dtype for name, buffer in layer.named_buffers()}
    if moved.get("mean") != torch.float64 or moved.get("std") != torch.float64:
        raise NotYet(f"After `.to(torch.float64)` the buffers are {moved}.")
    out = attempt(f"{shown}(X.double())", layer, X.double())
    if not isinstance(out, torch.Tensor) or out.dtype != torch.float64:
        raise NotYet("After `.to(torch.float64)` the output is not float64.")
    return (
        "`mean` and `std` are saved, loaded and moved with the module, never "
        "trained; `fit` can assign new tensors to them and they stay buffers."
    )


_BUILT_IN = "this exercise asks you to write the leaky ReLU with tensor operations"
_REFUSED = {
    torch.ops.aten.prelu,
    torch.ops.aten._prelu_kernel,
    torch.ops.aten.leaky_relu,
    torch.ops.aten.leaky_relu_,
    torch.ops.aten.rrelu_with_noise,
    torch.ops.aten.rrelu_with_noise_,
}


class _WithoutBuiltInPReLU(TorchDispatchMode):
    """While the learner's layer runs, PyTorch's PReLU and leaky ReLU raise, however
    they are reached (nn.PReLU, F.prelu, torch.ops.aten..., F.leaky_relu, F.rrelu)."""

    def __torch_dispatch__(
        self,
        func: Any,
        types: Any,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
    ) -> Any:
        if func.overloadpacket in _REFUSED:
            raise NotYet(
                f"Your layer calls PyTorch's own PReLU or leaky ReLU; {_BUILT_IN} "
                "(`torch.clamp`, `torch.where`, arithmetic)."
            )
        return func(*args, **(kwargs or {}))


def _rounded(values: torch.Tensor) -> list[Any]:
    """A tensor's values rounded to 3 decimals, for a message."""
    return torch.round(values.detach().double(), decimals=3).tolist()


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
    with _WithoutBuiltInPReLU():
        out = attempt("layer(X)", layer, X.clone())
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (3, 3):
        raise NotYet(
            f"For X of shape (3, 3) the layer returns {describe(out)}; want the "
            "same shape as X."
        )
    found = out.detach().float()
    if torch.allclose(
        found, torch.where(X > 0, X, torch.tensor([[0.1], [0.2], [0.3]]) * X)
    ):
        raise NotYet(
            "Each *row* got its own slope: the features are the last dimension, and a "
            "(num_features,) slope broadcasts along it as it is."
        )
    if not torch.allclose(found, want):
        raise NotYet(
            f"With slopes (0.1, 0.2, 0.3) the layer maps {X.tolist()} to "
            f"{_rounded(found)}; want {_rounded(want)}: x where x > 0, slope * x "
            "elsewhere."
        )
    if out.requires_grad:
        attempt("layer(X).sum().backward()", out.sum().backward)
    if slope.grad is None:
        raise NotYet(
            "No gradient reached `slope`: compute the output from `self.slope` "
            "without `.detach()`, `.item()` or `torch.no_grad()`."
        )
    grad = torch.clamp(X, max=0).sum(dim=0)
    if not torch.allclose(slope.grad.float(), grad):
        raise NotYet(
            f"`slope.grad` is {_rounded(slope.grad)}; want {_rounded(grad)}, the sum "
            "over the batch of min(0, x) for each feature."
        )
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
