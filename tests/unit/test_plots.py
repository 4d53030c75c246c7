"""torchprimer.plots on small fabricated tensors."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from torchprimer.plots import show_images  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_grid_shape_titles_and_hidden_axes():
    images = [torch.zeros(3, 4, 5, dtype=torch.uint8) for _ in range(5)]
    fig = show_images(images, [f"img {i}" for i in range(5)], ncols=3)
    axes = fig.axes
    assert len(axes) == 6  # 2 rows x 3 columns; the sixth stays empty
    assert [ax.get_title() for ax in axes[:5]] == [f"img {i}" for i in range(5)]
    assert not axes[5].images and not axes[5].axison


def test_channels_move_last_and_a_single_channel_is_squeezed():
    rgb = torch.rand(3, 4, 6)
    gray = torch.randint(0, 256, (1, 4, 6), dtype=torch.uint8)
    fig = show_images([rgb, gray, torch.rand(4, 6)], ncols=3)
    shapes = [ax.images[0].get_array().shape for ax in fig.axes]
    assert shapes == [(4, 6, 3), (4, 6), (4, 6)]
    assert fig.axes[1].images[0].get_clim() == (0, 255)  # fixed gray scale for uint8
    assert fig.axes[2].images[0].get_clim() == (0, 1)


def test_a_batch_tensor_and_out_of_range_floats():
    batch = torch.full(
        (4, 3, 2, 2), 2.0
    )  # e.g. after Normalize: clamped to [0, 1] for display
    fig = show_images(batch, ncols=2)
    assert len(fig.axes) == 4
    assert float(fig.axes[0].images[0].get_array().max()) == 1.0
