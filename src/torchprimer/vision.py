"""Convolutional training for 28x28 images: batched augmentation, the training recipe
and test-time augmentation.

Taught in notebook 06 (convolutional networks). Every function and class here is shown
in full in that notebook (``tests/unit/test_taught_code.py`` checks that the notebook
and this module hold the same code); ``benchmarks/train_cnn.py`` trains with the same
``AugmentedLoader`` and ``train_cnn``, so the chapter and the benchmark cannot drift
apart. Nothing runs on import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import torch
from torch import nn

from torchprimer.engine import fit
from torchprimer.loaders import TensorLoader

__all__ = ["augment", "AugmentedLoader", "train_cnn", "predict_with_flips"]


def augment(
    X: torch.Tensor, padding: int = 2, generator: torch.Generator | None = None
) -> torch.Tensor:
    """A random crop (after ``padding`` edge pixels on every side) and a random
    horizontal flip, drawn independently for every image of the (N, C, H, W) batch.

    Taught in notebook 06 (convolutional networks).
    """
    N, C, H, W = X.shape
    padded = nn.functional.pad(X, [padding] * 4, mode="replicate")
    dy, dx = torch.randint(0, 2 * padding + 1, (2, N, 1, 1), generator=generator)
    flip = torch.rand(N, 1, 1, generator=generator) < 0.5
    cols = torch.arange(W)
    cols = torch.where(flip, W - 1 - cols, cols) + dx  # a flip reverses the columns
    rows = torch.arange(H)[:, None] + dy
    # (N, H, W) positions in the flattened padded image, the same for every channel
    index = (rows * (W + 2 * padding) + cols).view(N, 1, H * W).expand(N, C, H * W)
    return padded.flatten(2).gather(2, index.to(X.device)).view(N, C, H, W)


class AugmentedLoader:
    """Shuffled mini-batches ``(augment(X), y)`` from tensors in memory, new random
    crops and flips every epoch (``padding=None``: the batches unchanged).

    Taught in notebook 06 (convolutional networks).
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        batch_size: int,
        padding: int | None = 2,
        generator: torch.Generator | None = None,
    ) -> None:
        self.loader = TensorLoader(X, y, batch_size, shuffle=True, generator=generator)
        self.padding, self.generator = padding, generator

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for X, y in self.loader:
            if self.padding is not None:
                X = augment(X, self.padding, self.generator)
            yield X, y


def train_cnn(
    model: nn.Module,
    train_dataloader: AugmentedLoader | TensorLoader,
    val_dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
    num_epochs: int,
    lr: float = 4e-3,
    label_smoothing: float = 0.1,
    one_cycle: bool = True,
) -> list[dict[str, float]]:
    """Train ``model`` in place with the chapter's recipe: channels_last, AdamW, a
    one-cycle schedule (``one_cycle=False``: a constant ``lr``), label smoothing.
    Returns ``fit``'s history.

    Taught in notebook 06 (convolutional networks).
    """
    model.to(device, memory_format=torch.channels_last)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    scheduler = None  # created only when used: OneCycleLR lowers the lr it starts from
    if one_cycle:
        steps = num_epochs * len(train_dataloader)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, lr, total_steps=steps, pct_start=0.25
        )
    loaders = (train_dataloader, val_dataloader)
    return fit(
        model, *loaders, loss_fn, optimizer, device, num_epochs, scheduler=scheduler
    )


@torch.no_grad()
def predict_with_flips(
    model: nn.Module,
    dataloader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    device: torch.device,
) -> torch.Tensor:
    """Test-time augmentation: the class with the highest mean softmax over each image
    and its mirror image, for every sample in ``dataloader``, on the CPU.

    Taught in notebook 06 (convolutional networks).
    """
    model.eval()
    predictions = []
    for X, _ in dataloader:
        X = X.to(device)
        probs = model(X).softmax(dim=1) + model(X.flip(dims=[3])).softmax(dim=1)
        predictions.append(probs.argmax(dim=1).cpu())
    return torch.cat(predictions)
