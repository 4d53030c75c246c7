"""Plotting helpers shared by the chapters (matplotlib).

Hand-written: chapter 02 explains what :func:`show_images` does and imports it. Nothing
here calls ``plt.show()``; the chapter's cell does.
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

    Each image is (C, H, W) with C = 1 or 3, or (H, W); uint8, or float in [0, 1]. A
    batch (N, C, H, W) works too.
    """
    images = list(images)
    nrows = max(1, -(-len(images) // ncols))  # ceiling division
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < len(images):
            image = images[index].detach().cpu()
            if image.ndim == 3:  # matplotlib wants (H, W, C), or (H, W) for gray
                image = image.permute(1, 2, 0).squeeze(-1)
            vmax = 1.0 if image.is_floating_point() else 255
            # a fixed gray scale, not stretched to each image's own min and max
            ax.imshow(image.clamp(0, vmax).numpy(), cmap="gray", vmin=0, vmax=vmax)
            ax.set_title(titles[index] if titles is not None else "")
    fig.tight_layout()
    return fig
