"""torchprimer.models.MLP: layer sizes, parameter count, shapes, gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchprimer.models import MLP


def linear_sizes(model: nn.Module) -> list[tuple[int, int]]:
    return [
        (m.in_features, m.out_features)
        for m in model.modules()
        if isinstance(m, nn.Linear)
    ]


def expected_count(sizes: list[int]) -> int:
    return sum(n_in * n_out + n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))


def test_default_is_784_128_64_32_10():
    model = MLP()
    assert linear_sizes(model) == [(784, 128), (128, 64), (64, 32), (32, 10)]
    assert sum(p.numel() for p in model.parameters()) == expected_count(
        [784, 128, 64, 32, 10]
    )


@pytest.mark.parametrize(
    ("hidden", "in_features", "num_classes"),
    [((16,), 20, 3), ((8, 8, 8), 784, 10), ((), 12, 4)],
)
def test_custom_sizes(hidden, in_features, num_classes):
    model = MLP(hidden, in_features=in_features, num_classes=num_classes)
    sizes = [in_features, *hidden, num_classes]
    assert linear_sizes(model) == list(zip(sizes[:-1], sizes[1:]))
    assert sum(p.numel() for p in model.parameters()) == expected_count(sizes)


def test_relu_between_linear_layers_and_logits_out():
    layers = list(MLP((8, 4), in_features=6, num_classes=3).layers)
    kinds = [type(m).__name__ for m in layers]
    assert kinds == [
        "Linear",
        "ReLU",
        "Linear",
        "ReLU",
        "Linear",
    ]  # no activation after the last layer


def test_forward_shapes_for_images_and_rows():
    torch.manual_seed(0)
    model = MLP()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 10)
    assert model(torch.rand(2, 784)).shape == (2, 10)


def test_returns_logits_not_probabilities():
    torch.manual_seed(0)
    out = MLP((4,), in_features=3, num_classes=5)(torch.randn(6, 3) * 10)
    assert not torch.allclose(out.sum(dim=1), torch.ones(6))


def test_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = MLP((8, 8), in_features=10, num_classes=3)
    loss = nn.CrossEntropyLoss()(model(torch.randn(4, 10)), torch.tensor([0, 1, 2, 0]))
    loss.backward()
    for name, param in model.named_parameters():
        assert param.grad is not None and param.grad.shape == param.shape, name


def test_same_seed_same_weights():
    torch.manual_seed(3)
    a = MLP((8,), in_features=4, num_classes=2)
    torch.manual_seed(3)
    b = MLP((8,), in_features=4, num_classes=2)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)
