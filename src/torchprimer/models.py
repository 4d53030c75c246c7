"""The models the primer trains.

``MLP`` is taught in notebook 03 (building models) and trained from notebook 05 on;
``CNN`` is taught in notebook 06 (convolutional networks).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["CNN", "MLP"]


class MLP(nn.Module):
    """A multilayer perceptron for 28x28 images: flatten, then Linear + ReLU blocks,
    then class logits.

    ``MLP()`` is 784-128-64-32-10. It returns raw logits (no softmax):
    ``nn.CrossEntropyLoss`` expects logits and applies ``log_softmax`` itself.

    Taught in notebook 03 (building models).
    """

    def __init__(
        self,
        hidden_sizes: Sequence[int] = (128, 64, 32),
        in_features: int = 784,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        sizes = [in_features, *hidden_sizes]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], num_classes))
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) images (or (N, 784) rows) -> (N, num_classes) logits."""
        return self.layers(self.flatten(x))


class CNN(nn.Module):
    """Three blocks of 3x3 conv (no bias) + BatchNorm + ReLU + 2x2 max-pool, then a
    hidden layer and class logits: 98,554 parameters with the default widths.

    Taught in notebook 06 (convolutional networks).
    """

    def __init__(
        self,
        widths: Sequence[int] = (16, 32, 64),
        hidden: int = 128,
        in_channels: int = 1,
        num_classes: int = 10,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for n_in, n_out in zip([in_channels, *widths[:-1]], widths):
            conv = nn.Conv2d(n_in, n_out, kernel_size=3, padding=1, bias=False)
            blocks += [conv, nn.BatchNorm2d(n_out), nn.ReLU(), nn.MaxPool2d(2)]
        side = 28 // 2 ** len(widths)  # each max-pool halves the side, rounding down
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(widths[-1] * side * side, hidden),
            nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (N, C, 28, 28) -> (N, 10)
        return self.classifier(self.features(x))
