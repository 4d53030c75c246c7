"""Checks for the exercises of chapter 06
(notebooks/exercises/06_convolutional_networks_*.ipynb)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.data import DataLoader, TensorDataset

from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    describe,
    parameter_count,
    whole_number,
)
from torchprimer.fashion_mnist import fashion_mnist_tensors
from torchprimer.models import CNN, MLP
from torchprimer.paths import repository_path

registry = Registry("06")
check = registry.check


# --- Exercise 1: the output-size formula --------------------------------------------


def _conv_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """What nn.Conv2d really gives: run it on zeros."""
    conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
    with torch.no_grad():
        return conv(torch.zeros(1, 1, size, size)).shape[-1]


def _settings() -> list[tuple[int, int, int, int, int]]:
    found = []
    for size, kernel, stride, padding, dilation in itertools.product(
        (5, 8, 28, 33), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)
    ):
        if padding <= kernel // 2 and dilation * (kernel - 1) + 1 <= size + 2 * padding:
            found.append((size, kernel, stride, padding, dilation))
    return found


_SLIDING = ("conv", "pool", "im2col", "unfold")  # aten ops that slide a window
_FORMULA = (
    "this exercise asks for the formula itself, in integer arithmetic (`+`, `-`, "
    "`*`, `//`), not for a layer that computes the size for you."
)


class _NoSlidingWindows(TorchDispatchMode):
    """While active, every convolution, pooling or unfold op raises NotYet (and is
    remembered, in case the learner's code catches the error)."""

    def __init__(self) -> None:
        super().__init__()
        self.used: str | None = None

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        name = func.name().split("::")[-1]
        if any(word in name for word in _SLIDING):
            self.used = self.used or name
            raise NotYet(f"Your function runs PyTorch's `{name}`; {_FORMULA}")
        return func(*args, **(kwargs or {}))


@contextmanager
def _by_formula() -> Iterator[_NoSlidingWindows]:
    with _NoSlidingWindows() as mode:
        yield mode
    if mode.used:  # the learner's code caught the error: still a shortcut
        raise NotYet(f"Your function runs PyTorch's `{mode.used}`; {_FORMULA}")


@registry.exercise("conv_output_size")
def _conv_output_size(answers: Answers) -> str:
    settings = _settings()
    for size, kernel, stride, padding, dilation in settings:
        want = _conv_size(size, kernel, stride, padding, dilation)
        shown = f"conv_output_size({size}, {kernel}, {stride}, {padding}, {dilation})"
        with _by_formula():
            got = answers.call_as(
                "conv_output_size", shown, size, kernel, stride, padding, dilation
            )
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if isinstance(got, float):
            raise NotYet(
                f"`{shown}` returned the float {got!r}; want an int. Compute it in "
                "integer arithmetic: `//` for the division by the stride, not `/`."
            )
        if isinstance(got, bool) or not isinstance(got, int):
            raise NotYet(
                f"`conv_output_size` returned {describe(got)}; want a whole number "
                "(an int)."
            )
        if got == want:
            continue
        case = (
            f"For size={size}, kernel_size={kernel}, stride={stride}, "
            f"padding={padding}, dilation={dilation}, nn.Conv2d gives {want} but "
            f"`conv_output_size` gives {got}."
        )
        span = dilation * (kernel - 1) + 1  # pixels one kernel placement covers
        if got == -(-(size + 2 * padding - span) // stride) + 1:
            hint = (
                "The division rounds down (`//`): a last window that would stick out "
            )
            hint += "of the padded input is dropped."
        elif got == (size + 2 * padding - kernel) // stride + 1:
            hint = "Dilation spreads the kernel out: it covers dilation·(k − 1) + 1 "
            hint += "pixels instead of k."
        elif got == (size + padding - span) // stride + 1:
            hint = "Padding is added on both sides: 2·padding."
        else:
            hint = "Count the positions of the kernel: the padded input has "
            hint += "size + 2·padding pixels, one placement covers "
            hint += "dilation·(k − 1) + 1 of them, and each step moves `stride` pixels."
        raise NotYet(f"{case} {hint}")
    return f"It matches nn.Conv2d in all {len(settings)} settings tried."


# --- Exercise 2: parameters of a conv layer and a linear layer ----------------------


@registry.exercise("predict_parameters")
def _predict_parameters(answers: Answers) -> str:
    conv_weights, conv_biases = 32 * 16 * 3 * 3, 32
    linear_weights, linear_biases = (16 * 14 * 14) * (32 * 14 * 14), 32 * 14 * 14
    conv = whole_number(answers.get("predicted_conv_params"), "predicted_conv_params")
    linear = whole_number(
        answers.get("predicted_linear_params"), "predicted_linear_params"
    )
    if conv != conv_weights + conv_biases:
        hints = {
            conv_weights: "Each of the 32 filters also has one bias.",
            32 * 3 * 3 + 32: "Each filter spans all 16 input channels: it has "
            "16 × 3 × 3 weights, not 3 × 3.",
            32 * 3 * 3: "Each filter spans all 16 input channels (16 × 3 × 3 weights) "
            "and has one bias.",
        }
        hint = hints.get(
            conv,
            "A filter has in_channels × kernel height × kernel width weights and one "
            "bias; there is one filter per output channel. The image size does not "
            "appear.",
        )
        raise NotYet(f"`predicted_conv_params` is {conv:,}. {hint}")
    if linear != linear_weights + linear_biases:
        hints = {
            linear_weights: "`nn.Linear` also has one bias per output feature.",
        }
        hint = hints.get(
            linear,
            "The linear layer maps all 16 · 14 · 14 inputs to all 32 · 14 · 14 "
            "outputs: in_features × out_features weights plus out_features biases.",
        )
        raise NotYet(f"`predicted_linear_params` is {linear:,}. {hint}")
    ratio = linear / conv
    return (
        f"Conv2d: 32 · 16 · 3 · 3 + 32 = {conv:,}; Linear: {16 * 14 * 14:,} · "
        f"{32 * 14 * 14:,} + {32 * 14 * 14:,} = {linear:,}, {ratio:,.0f}× more. Each "
        "filter is shared by every position (weight sharing) and sees only a 3 × 3 "
        "patch (locality)."
    )


# --- Exercise 3: a vertical-edge filter ---------------------------------------------


class _Conv2dCalls(TorchFunctionMode):
    """Records the kernel shape of every `conv2d` call (`F.conv2d`, `nn.Conv2d`)."""

    def __init__(self) -> None:
        super().__init__()
        self.kernels: list[tuple[int, ...]] = []

    def __torch_function__(
        self, func: Any, types: Any, args: Any = (), kwargs: Any = None
    ) -> Any:
        kwargs = kwargs or {}
        if getattr(func, "__name__", "") == "conv2d":
            weight = args[1] if len(args) > 1 else kwargs.get("weight")
            self.kernels.append(tuple(getattr(weight, "shape", ())))
        return func(*args, **kwargs)


def _edges(answers: Answers, images: torch.Tensor, what: str) -> torch.Tensor:
    with _Conv2dCalls() as calls:
        out = answers.call_as(
            "vertical_edges", "vertical_edges(images)", images.clone()
        )
    if not calls.kernels:
        raise NotYet(
            "`vertical_edges` does not call `nn.functional.conv2d`: the exercise asks "
            "for one 3 × 3 kernel applied with `conv2d`, not a difference of shifted "
            "pixels."
        )
    if all(kernel[-2:] != (3, 3) for kernel in calls.kernels):
        raise NotYet(
            "`vertical_edges` calls `conv2d` with a weight of shape "
            f"{calls.kernels[0]}; the exercise asks for one 3 × 3 kernel, a weight "
            "of shape (1, 1, 3, 3)."
        )
    if not isinstance(out, torch.Tensor):
        raise NotYet(
            f"`vertical_edges` returned {describe(out)} for {what}; want a tensor."
        )
    if tuple(out.shape) != tuple(images.shape):
        raise NotYet(
            f"For {what} of shape {tuple(images.shape)} the response has shape "
            f"{tuple(out.shape)}; want the same (N, 1, H, W). With a 3 × 3 kernel, "
            "`padding=1` keeps H and W."
        )
    return out.detach().float()[:, :, 2:-2, 2:-2]  # inside: away from the padding


@registry.exercise("vertical_edges")
def _vertical_edges(answers: Answers) -> str:
    height, width = 9, 14
    rising = torch.zeros(2, 1, height, width)
    rising[:, :, :, width // 2 :] = 1.0
    rising[1] *= 3.0
    falling = rising.flip(dims=[3])  # bright on the left, dark on the right
    flat = torch.full((2, 1, height, width), 0.7)
    horizontal = torch.zeros(2, 1, height, width)
    horizontal[:, :, height // 2 :, :] = 1.0
    tol = 1e-4
    out = _edges(answers, flat, "a flat image")
    if out.abs().max() > tol:
        raise NotYet(
            "On a flat image (every pixel 0.7) the response inside the image is "
            f"{out.abs().max():.3g}, not 0: make the kernel's weights sum to 0, so "
            "that regions without an edge give 0."
        )
    out = _edges(answers, horizontal, "an image with a horizontal edge")
    if out.abs().max() > tol:
        raise NotYet(
            "An image that is dark at the top and bright at the bottom gives a "
            "response: a vertical-edge filter must ignore horizontal edges. Make the "
            "weights change only from left to right (each column of the kernel holds "
            "one value, as in [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]])."
        )
    out = _edges(answers, rising, "a dark-left, bright-right image")
    far = torch.cat([out[..., :2], out[..., -2:]], dim=-1)  # columns far from the edge
    if out.max() <= 0.1 and out.min() < -0.1:
        raise NotYet(
            "Brightness rising from left to right gives a negative response. "
            "`F.conv2d` does not flip the kernel (it computes a cross-correlation): "
            "put the negative weights in the left column, the positive ones on the "
            "right."
        )
    if out.max() <= 0.1 or out.min() < -tol or far.abs().max() > tol:
        raise NotYet(
            "On an image that is dark on the left and bright on the right, the "
            "response should be positive along the edge and 0 away from it."
        )
    out = _edges(answers, falling, "a bright-left, dark-right image")
    far = torch.cat([out[..., :2], out[..., -2:]], dim=-1)
    if out.min() >= -0.1 or out.max() > tol or far.abs().max() > tol:
        raise NotYet(
            "On an image that is bright on the left and dark on the right, the "
            "response should be negative along the edge and 0 away from it: return "
            "the convolution itself, without `.abs()` or a ReLU, so that the sign "
            "tells rising from falling brightness."
        )
    return (
        "A flat region gives 0, a horizontal edge 0, a rising vertical edge > 0 and a "
        "falling one < 0."
    )


# --- Exercise 4: the receptive field ------------------------------------------------


@registry.exercise("receptive_field")
def _receptive_field(answers: Answers) -> str:
    value = answers.get("predicted_receptive_fields")
    try:
        if isinstance(value, str | torch.Tensor):
            raise TypeError
        got = [int(v) for v in value]
    except (TypeError, ValueError):
        raise NotYet(
            "`predicted_receptive_fields` should be a list of six whole numbers, "
            f"not {describe(value)}."
        ) from None
    if len(got) != 6:
        raise NotYet(
            f"`predicted_receptive_fields` holds {len(got)} numbers; want 6: after "
            "conv, pool, conv, pool, conv, pool."
        )
    want, field, jump = [], 1, 1
    for kernel, stride in [(3, 1), (2, 2)] * 3:
        field += (kernel - 1) * jump
        jump *= stride
        want.append(field)
    if got == want:
        return (
            f"{want}: the last pool's outputs each see 22 × 22 input pixels. The field "
            "grows by (k − 1) × jump per layer, and each pool doubles the jump."
        )
    if got == [3, 5, 7, 9, 11, 13] or got == [3, 4, 6, 7, 9, 10]:
        hint = (
            "After a 2 × 2 pool with stride 2, neighbouring positions of the map are "
            "2 input pixels apart (4 after two pools), so the next 3 × 3 conv widens "
            "the field by 2 × 2 = 4 input pixels, not 2."
        )
    elif got[:2] == [3, 6]:
        hint = (
            "A pool does not double the field: a 2 × 2 window adds one more "
            "position, one jump, to it. What doubles is the jump, the distance in "
            "input pixels between neighbouring positions."
        )
    else:
        hint = (
            "Start from 1 pixel with jump 1. Each layer with kernel k and stride s "
            "adds (k − 1) × jump to the field, then multiplies the jump by s."
        )
    raise NotYet(f"`predicted_receptive_fields` is {got}. {hint}")


# --- Exercise 5: BatchNorm at evaluation --------------------------------------------


def _bn_model() -> tuple[nn.Module, torch.Tensor]:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10)  # a seed whose 12 images get 5 different classes
        model = CNN()
        with torch.no_grad():
            for _ in range(5):  # fill the running statistics
                model(torch.rand(32, 1, 28, 28))
        images = torch.rand(12, 1, 28, 28) * torch.linspace(0.2, 3.0, 12).view(
            12, 1, 1, 1
        )
    model.train()
    return model, images


@registry.exercise("batchnorm_eval")
def _batchnorm_eval(answers: Answers) -> str:
    model, images = _bn_model()
    reference = copy.deepcopy(model).eval()
    with torch.no_grad():
        want = reference(images).argmax(dim=1)
    stats = [b.clone() for b in model.buffers()]
    got = answers.call_as("classify", "classify(model, images)", model, images.clone())
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != (len(images),):
        raise NotYet(
            f"`classify(model, images)` for {len(images)} images returned "
            f"{describe(got)}; want a tensor of {len(images)} class indices."
        )
    changed = any(
        not torch.equal(a, b)
        for a, b in zip(stats, model.buffers())
        if a.is_floating_point()
    )
    if changed:
        raise NotYet(
            "Calling `classify` changed BatchNorm's running statistics: in training "
            "mode every forward pass updates them, even under `torch.no_grad()`. Put "
            "the model in evaluation mode (`model.eval()`) before predicting."
        )
    wrong = int((got.long() != want).sum())
    if wrong:
        raise NotYet(
            f"`classify` disagrees with the model in evaluation mode on {wrong} of "
            f"{len(images)} images. In training mode BatchNorm normalises with the "
            "statistics of the batch itself, so a prediction depends on the other "
            "images in the batch: call `model.eval()`."
        )
    with torch.no_grad():
        want_one = reference(images[:1]).argmax(dim=1)
    one = answers.call_as(
        "classify", "classify(model, images[:1])", model, images[:1].clone()
    )
    if not torch.equal(torch.as_tensor(one).reshape(-1).long(), want_one):
        raise NotYet(
            "An image on its own gets another class than in evaluation mode: call "
            "`model.eval()` before predicting."
        )
    return "In evaluation mode each prediction depends on its own image only."


# --- Exercise 6: a small CNN --------------------------------------------------------

MAX_PARAMS = 30_000
TARGET = 0.80


def _small_data() -> tuple[DataLoader, torch.Tensor, torch.Tensor]:
    """The exercise's data, loaded by the check itself: batches of 64 from the first
    8,000 training images (shuffled with seed 0), and the first 2,000 test images."""
    data = fashion_mnist_tensors(repository_path("data"), seed=0)
    X_test, y_test = (t[:2000] for t in data["test"].tensors)
    train_dataloader = DataLoader(
        TensorDataset(*(t[:8000] for t in data["train"].tensors)),
        batch_size=64,
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )
    return train_dataloader, X_test, y_test


@registry.exercise("small_cnn")
def _small_cnn(answers: Answers) -> str:
    train_dataloader, X_test, y_test = _small_data()
    try:
        model = answers.call_as(
            "train_small_cnn",
            "train_small_cnn(train_dataloader, device)",
            train_dataloader,
            torch.device("cpu"),
        )
    except NotYet as exc:
        raise NotYet(
            f"{str(exc).rstrip('.')}. Replace the two `...` with a CNN of at most "
            f"{MAX_PARAMS:,} parameters and its optimizer."
        ) from None
    if not isinstance(model, nn.Module):
        raise NotYet(
            f"`train_small_cnn` returned {describe(model)}; want the trained nn.Module."
        )
    if not any(isinstance(m, nn.Conv2d) for m in model.modules()):
        raise NotYet("The model has no `nn.Conv2d` layer: build a CNN.")
    count = parameter_count(model)
    if count > MAX_PARAMS:
        raise NotYet(
            f"The model has {count:,} parameters; the limit is {MAX_PARAMS:,}. "
            "Count where they sit: with three blocks, the classifier's first "
            "`nn.Linear` alone has (last width × 3 × 3) × `hidden` weights. Fewer "
            "channels per block and a smaller hidden layer both shrink the model."
        )
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(X).argmax(dim=1) for X in X_test.split(500)])
    accuracy = (predicted == y_test).float().mean().item()
    if accuracy < TARGET:
        raise NotYet(
            f"Test accuracy {accuracy:.3f}; the target is {TARGET:.2f}. Check that "
            "the model trains (the loss falls each epoch), then try Adam with lr "
            "around 1e-3."
        )
    mlp = parameter_count(MLP())
    return (
        f"Test accuracy {accuracy:.3f} with {count:,} parameters (the MLP of 05 has "
        f"{mlp:,})."
    )
