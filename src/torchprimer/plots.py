"""Plotting helpers shared by the notebooks (matplotlib).

``show_images`` is taught in notebook 02 (datasets and transforms). Nothing here calls
``plt.show()``: the notebook cell does, so that only ``<Figure size ...>`` is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

__all__ = ["show_images"]


def show_images(
    images: torch.Tensor | Sequence[torch.Tensor],
    titles: Sequence[str] | None = None,
    ncols: int = 3,
    size: float = 2.0,
) -> Figure:
    """Plot images in a grid, one title each; return the figure.

    Taught in notebook 02 (datasets and transforms).

    Each image is a (C, H, W) tensor with C = 1 or 3 (uint8, or float in [0, 1]) or an
    (H, W) tensor; a batch of shape (N, C, H, W) works too. Matplotlib wants (H, W, C)
    or (H, W), so channels move last and a single channel is squeezed away.
    """
    images = list(images)
    nrows = max(1, -(-len(images) // ncols))  # ceiling division
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index >= len(images):
            continue
        image = images[index].detach().cpu()
        if image.ndim == 3:
            image = image.permute(1, 2, 0)  # (C, H, W) -> (H, W, C)
        if image.ndim == 3 and image.shape[-1] == 1:
            image = image.squeeze(-1)  # (H, W, 1) -> (H, W)
        vmax = 1 if image.is_floating_point() else 255
        if image.is_floating_point():
            image = image.clamp(0, 1)
        if (
            image.ndim == 2
        ):  # a fixed gray scale, not stretched to each image's own min and max
            ax.imshow(image.numpy(), cmap="gray", vmin=0, vmax=vmax)
        else:
            ax.imshow(image.numpy())
        if titles is not None:
            ax.set_title(titles[index])
    fig.tight_layout()
    return fig
