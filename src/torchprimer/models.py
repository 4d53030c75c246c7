"""The models the primer trains.

Taught in notebook 03 (building models); notebook 05 (training) imports ``MLP`` from
here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["MLP"]


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
