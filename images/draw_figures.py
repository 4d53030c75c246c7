"""Draw the concept figures used by the notebooks.

Run with ``make figures`` (or ``python images/draw_figures.py [OUTDIR]``). Every figure
is drawn with matplotlib on the Agg backend, at a fixed dpi, from fixed numbers or
seeded random numbers, and saved without metadata, so running this twice gives the same
pixels. ``tests/unit/test_figures.py`` redraws into a temporary folder and compares with
the committed files.

Readable on the site: the book shows figures in a column 774 CSS px wide, so every
figure is at most ``MAX_WIDTH_PX`` = 1160 px wide and has no text smaller than
``MIN_FONT_PT`` = 11 pt; then its smallest text is at least 10 CSS px tall as shown.
``_save_png`` and ``_save_gif`` check both before they write anything.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import PillowWriter  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402
from matplotlib.text import Text  # noqa: E402

DPI = 100
# 11 pt at DPI 100 is 15.3 px; a 1160 px figure shown 774 px wide keeps it >= 10 CSS px
# (tests/site/test_site_layout.py measures this in the browser).
MIN_FONT_PT = 11
MAX_WIDTH_PX = 1160
SEED = 0
HERE = Path(__file__).resolve().parent

# One small palette, readable on white and in grayscale prints.
BLUE = "#4C72B0"
ORANGE = "#DD8452"
GREEN = "#55A868"
RED = "#C44E52"
PURPLE = "#8172B2"
GRAY = "#8C8C8C"
LIGHT = "#EAF0F8"

STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 11,
    "axes.titlesize": 12,
    "svg.hashsalt": "torchprimer",
    "path.simplify": True,
}


# --------------------------------------------------------------------------- helpers


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_readable(fig: Figure, name: str) -> None:
    """Raise ValueError, naming the figure and the offending text, if ``fig`` saved at
    ``DPI`` would be wider than ``MAX_WIDTH_PX`` or holds text smaller than
    ``MIN_FONT_PT`` (every non-empty ``Text``: labels, titles, tick labels)."""
    fig.canvas.draw()  # tick labels get their text only when the figure is drawn
    problems = []
    width_px = fig.get_figwidth() * DPI
    if width_px > MAX_WIDTH_PX:
        problems.append(
            f"{width_px:.0f} px wide, more than MAX_WIDTH_PX = {MAX_WIDTH_PX}: "
            f"make it at most {MAX_WIDTH_PX / DPI:g} inches wide"
        )
    small = {  # a dict keeps the order and drops repeats (tick labels come twice)
        f"{_shorten(text.get_text())!r} at {text.get_fontsize():g} pt": None
        for text in fig.findobj(Text)
        if text.get_text().strip() and text.get_fontsize() < MIN_FONT_PT
    }
    if small:
        problems.append(
            f"text smaller than MIN_FONT_PT = {MIN_FONT_PT} pt: {'; '.join(small)}; "
            f"draw it at {MIN_FONT_PT} pt or more (shorten it or make room)"
        )
    if problems:
        raise ValueError(f"figure {name}: " + " | ".join(problems))


def _save_png(fig: Figure, path: Path, *, transparent: bool = False) -> None:
    """Check ``fig`` and write it to ``path`` without metadata; close it either way."""
    try:
        check_readable(fig, path.name)
        background = {"transparent": True} if transparent else {"facecolor": "white"}
        fig.savefig(path, dpi=DPI, metadata={"Software": None}, **background)
    finally:
        plt.close(fig)


def _save_gif(
    fig: Figure, path: Path, draw_frame: Callable[[Any], None], frames: list
) -> None:
    """Write a looping animated GIF, one frame a second, where ``draw_frame(frame)``
    redraws ``fig`` for each of ``frames``; every frame is checked before writing."""
    writer = PillowWriter(fps=1)
    try:
        writer.setup(fig, str(path), dpi=DPI)
        for frame in frames:
            draw_frame(frame)
            check_readable(fig, path.name)
            writer.grab_frame(facecolor="white")
        writer.finish()
    finally:
        plt.close(fig)


def _cell(
    ax,
    x: float,
    y: float,
    text: str = "",
    *,
    w: float = 1.0,
    h: float = 1.0,
    face: str = LIGHT,
    edge: str = BLUE,
    fontsize: float = 12,
    lw: float = 1.5,
    color: str = "black",
    zorder: float = 1.0,
) -> None:
    ax.add_patch(
        Rectangle(
            (x, y), w, h, facecolor=face, edgecolor=edge, linewidth=lw, zorder=zorder
        )
    )
    if text != "":
        ax.text(
            x + w / 2,
            y + h / 2,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=color,
            zorder=zorder + 0.5,
        )


def _grid(ax, x0: float, y0: float, values, **kw) -> None:
    """Draw a 2-D array of values with row 0 at the top, starting at (x0, y0) =
    bottom-left."""
    values = np.atleast_2d(values)
    rows, cols = values.shape
    for r in range(rows):
        for c in range(cols):
            _cell(ax, x0 + c, y0 + rows - 1 - r, str(values[r, c]), **kw)


def _arrow(
    ax,
    start,
    end,
    text: str = "",
    *,
    color: str = "black",
    style: str = "-|>",
    ls: str = "-",
    text_offset=(0.0, 0.25),
    fontsize: float = 11,
    rad: float = 0.0,
    text_color: str | None = None,
    lw: float = 1.6,
) -> None:
    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle=style,
            mutation_scale=16,
            color=color,
            linestyle=ls,
            linewidth=lw,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=2,
            shrinkB=2,
        )
    )
    if text:
        mx, my = (
            (start[0] + end[0]) / 2 + text_offset[0],
            (start[1] + end[1]) / 2 + text_offset[1],
        )
        ax.text(
            mx,
            my,
            text,
            ha="center",
            va="center",
            fontsize=fontsize,
            color=text_color or color,
            family="DejaVu Sans Mono",
        )


def _box(
    ax,
    x: float,
    y: float,
    w: float,
    h: float,
    text: str,
    *,
    face: str = LIGHT,
    edge: str = BLUE,
    fontsize: float = 11,
    mono: bool = False,
    round_: bool = True,
    ha: str = "center",
) -> None:
    style = "round,pad=0.02,rounding_size=0.15" if round_ else "square,pad=0.0"
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle=style, facecolor=face, edgecolor=edge, linewidth=1.6
        )
    )
    tx = x + w / 2 if ha == "center" else x + 0.15
    ax.text(
        tx,
        y + h / 2,
        text,
        ha=ha,
        va="center",
        fontsize=fontsize,
        family="DejaVu Sans Mono" if mono else "DejaVu Sans",
        linespacing=1.4,
    )


def _canvas(width: float, height: float, xlim, ylim) -> tuple[Figure, plt.Axes]:
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


# --------------------------------------------------------------------------- figures


def tensor_dimensions(out: Path) -> None:
    """Scalar, vector, matrix and 3-D tensor, each with its ndim and shape."""
    fig, ax = _canvas(10.5, 4.5, (-0.5, 20.5), (-2.6, 6.4))

    # scalar
    _cell(ax, 0.5, 1.5, "7")
    # vector
    _grid(ax, 2.8, 1.5, np.array([[1, 2, 3, 4]]))
    # matrix 3 x 4
    _grid(ax, 8.8, 0.5, np.arange(1, 13).reshape(3, 4))
    # 3-D: two 3x4 matrices, the back one offset up-right
    x3 = 15.0
    depth_dx, depth_dy = 1.0, 1.0
    back = np.arange(13, 25).reshape(3, 4)
    front = np.arange(1, 13).reshape(3, 4)
    _grid(
        ax,
        x3 + depth_dx,
        0.5 + depth_dy,
        back,
        face="#D5DEEE",
        color="#555555",
        zorder=1,
    )
    _grid(ax, x3, 0.5, front, zorder=5)
    # depth edges
    for x, y in [(x3, 3.5), (x3 + 4, 3.5), (x3 + 4, 0.5)]:
        ax.plot([x, x + depth_dx], [y, y + depth_dy], color=BLUE, lw=1.2, zorder=0.5)

    labels = [
        (1.0, "scalar", "ndim = 0\nshape = ()"),
        (4.8, "vector", "ndim = 1\nshape = (4,)"),
        (10.8, "matrix", "ndim = 2\nshape = (3, 4)"),
        (x3 + 2.5, "3-D tensor", "ndim = 3\nshape = (2, 3, 4)"),
    ]
    for x, name, shape in labels:
        ax.text(x, 5.9, name, ha="center", va="center", fontsize=15, weight="bold")
        ax.text(
            x,
            -1.3,
            shape,
            ha="center",
            va="center",
            fontsize=12,
            family="DejaVu Sans Mono",
        )
    ax.text(8.6, 2.0, "dim 0:\n3 rows", color=GRAY, ha="right", va="center")
    ax.text(10.8, 0.0, "dim 1: 4 columns", color=GRAY, ha="center", va="center")
    ax.text(x3 - 0.4, 4.9, "dim 0: 2 matrices", color=GRAY)
    _save_png(fig, out / "tensor_dimensions.png")


def _toy_image(size: int = 12) -> np.ndarray:
    """A tiny RGB picture (sky, sun, grass) as floats in [0, 1], shape H x W x 3."""
    img = np.zeros((size, size, 3))
    rows = np.arange(size)[:, None] * np.ones((1, size))
    cols = np.ones((size, 1)) * np.arange(size)[None, :]
    sky = rows < size * 0.65
    img[sky] = [0.45, 0.7, 0.95]
    img[~sky] = [0.25, 0.65, 0.25]
    sun = (rows - 3) ** 2 + (cols - 8) ** 2 <= 4.5
    img[sun] = [1.0, 0.85, 0.1]
    img[(rows == size - 1) & (cols % 3 == 0)] = [0.15, 0.45, 0.15]
    return img


def tensor_image_channels(out: Path) -> None:
    """An RGB image is a 3-D tensor: channels x height x width."""
    img = _toy_image(12)
    fig = plt.figure(figsize=(11.5, 4.6))
    ax_img = fig.add_axes((0.035, 0.16, 0.225, 0.66))
    ax_img.imshow(img, interpolation="nearest")
    ax_img.set_xticks([0, 11], ["0", "W-1"])
    ax_img.set_yticks([0, 11], ["0", "H-1"])
    ax_img.set_title("an RGB image, 12 x 12 pixels", fontsize=12)

    ax = fig.add_axes((0.265, 0.0, 0.735, 1.0))
    ax.set_xlim(0, 32)
    ax.set_ylim(0, 12.3)
    ax.axis("off")
    _arrow(ax, (0.3, 6.3), (3.6, 6.3), "ToTensor()", text_offset=(0, 0.6))
    names = ["R (channel 0)", "G (channel 1)", "B (channel 2)"]
    cmaps = ["Reds", "Greens", "Blues"]
    step = 1.6
    for k in (2, 1, 0):
        x0, y0 = 5 + k * step, 1.8 + k * step
        ax.imshow(
            img[:, :, k],
            cmap=cmaps[k],
            vmin=0,
            vmax=1.15,
            interpolation="nearest",
            extent=(x0, x0 + 7, y0, y0 + 7),
            zorder=10 - k,
        )
        ax.add_patch(
            Rectangle(
                (x0, y0), 7, 7, fill=False, edgecolor="black", lw=1.2, zorder=11 - k
            )
        )
        ax.text(x0 + 7.2, y0 + 0.3, names[k], va="bottom", zorder=20)
    ax.text(8.5, 0.9, "W = 12", ha="center", fontsize=11)
    ax.text(4.5, 5.3, "H = 12", ha="center", va="center", rotation=90, fontsize=11)
    ax.text(5.3, 11.6, "C = 3", fontsize=11)
    ax.annotate(
        "",
        xy=(8.2, 10.9),
        xytext=(5.1, 7.8),
        arrowprops={"arrowstyle": "->", "color": GRAY},
    )
    ax.text(
        21.5,
        8.0,
        "tensor.shape\n= torch.Size([3, 12, 12])\n= C x H x W",
        fontsize=12,
        family="DejaVu Sans Mono",
        va="center",
        linespacing=1.5,
    )
    ax.text(
        21.5,
        3.6,
        "A PIL image or NumPy array is\nH x W x C (channels last);\n"
        "ToTensor() moves channels first\nand scales 0..255 to 0.0..1.0.",
        fontsize=11,
        va="center",
        color="#333333",
        linespacing=1.4,
    )
    _save_png(fig, out / "tensor_image_channels.png")


def squeeze_unsqueeze(out: Path) -> None:
    """unsqueeze inserts a dimension of size 1; squeeze removes dimensions of size 1."""
    fig, ax = _canvas(10.6, 5.44, (-0.5, 22.5), (-1.0, 10.8))
    v = np.array([[5, 6, 7]])

    # top row: x (3,) -> unsqueeze(0) -> (1, 3) and unsqueeze(1) -> (3, 1)
    ax.text(2.0, 10.0, "x", fontsize=14, ha="center", weight="bold")
    _grid(ax, 0.5, 7.2, v)
    ax.text(2.0, 6.5, "shape (3,)", ha="center", family="DejaVu Sans Mono")

    _arrow(
        ax,
        (4.2, 8.4),
        (9.3, 9.2),
        "x.unsqueeze(0)",
        text_offset=(0, 0.55),
        color=BLUE,
    )
    ax.add_patch(
        Rectangle((9.7, 8.0), 3.4, 1.6, fill=False, edgecolor=ORANGE, lw=2, ls="--")
    )
    _grid(ax, 9.9, 8.3, v)
    ax.text(
        13.4,
        8.8,
        "shape (1, 3)\na row",
        ha="left",
        va="center",
        family="DejaVu Sans Mono",
    )

    _arrow(
        ax,
        (4.2, 7.4),
        (16.3, 6.4),
        "x.unsqueeze(1)",
        text_offset=(0.0, -0.55),
        color=BLUE,
    )
    ax.add_patch(
        Rectangle((16.6, 5.2), 1.4, 3.6, fill=False, edgecolor=ORANGE, lw=2, ls="--")
    )
    _grid(ax, 16.8, 5.5, v.T)
    ax.text(
        19.0,
        7.0,
        "shape (3, 1)\na column",
        ha="left",
        va="center",
        family="DejaVu Sans Mono",
    )

    # bottom row: (1, 3, 1) -> squeeze() -> (3,)
    ax.plot([-0.5, 22.5], [4.3, 4.3], color="#DDDDDD", lw=1)
    ax.text(2.0, 3.6, "y", fontsize=14, ha="center", weight="bold")
    ax.add_patch(
        Rectangle((1.1, -0.15), 1.8, 3.3, fill=False, edgecolor=ORANGE, lw=2, ls="--")
    )
    ax.add_patch(
        Rectangle((1.3, 0.0), 1.4, 3.0, fill=False, edgecolor=ORANGE, lw=1.2, ls=":")
    )
    _grid(ax, 1.5, 0.0, v.T * 1)
    ax.text(
        3.4, 1.5, "shape\n(1, 3, 1)", ha="left", va="center", family="DejaVu Sans Mono"
    )

    _arrow(
        ax,
        (6.2, 1.5),
        (10.6, 1.5),
        "y.squeeze()",
        text_offset=(0, 0.5),
        color=RED,
    )
    _grid(ax, 11.1, 1.0, v)
    ax.text(12.6, 0.3, "shape (3,)", ha="center", va="top", family="DejaVu Sans Mono")
    ax.text(
        15.3,
        1.5,
        "squeeze() drops every size-1 dim;\nsqueeze(d) drops dim d only if\n"
        "its size is 1. Data is not copied:\nboth return views.",
        va="center",
        color="#333333",
        linespacing=1.4,
    )
    ax.text(16.6, 10.2, "dashed box = new dim of size 1", color=ORANGE)
    _save_png(fig, out / "squeeze_unsqueeze.png")


def matmul_gif(out: Path) -> None:
    """Animated: each entry of C = A @ B is the dot product of a row of A and a column
    of B."""
    A = np.array([[1, 2, 3], [4, 5, 6]])
    B = np.array([[7, 8], [9, 10], [11, 12]])
    C = A @ B
    fig, ax = _canvas(9, 3.4, (-0.6, 17.6), (-2.0, 4.8))
    steps = [(i, j) for i in range(2) for j in range(2)]

    def draw_frame(frame) -> None:
        ax.clear()
        ax.set_xlim(-0.6, 17.6)
        ax.set_ylim(-2.0, 4.8)
        ax.set_aspect("equal")
        ax.axis("off")
        done = (
            steps if frame == "done" else steps[: steps.index(frame)] if frame else []
        )
        cur = frame if isinstance(frame, tuple) else None
        # A (2x3) at x 0..3, y 1..3
        for r in range(2):
            for c in range(3):
                hot = cur is not None and r == cur[0]
                _cell(
                    ax,
                    c,
                    2 - r + 1,
                    str(A[r, c]),
                    face="#FCE3D2" if hot else LIGHT,
                    edge=ORANGE if hot else BLUE,
                    lw=2.5 if hot else 1.5,
                )
        ax.text(1.5, 4.3, "A  (2 x 3)", ha="center", fontsize=12)
        ax.text(3.7, 2.0, "@", ha="center", va="center", fontsize=18)
        # B (3x2) at x 4.5..6.5, y 0..3
        for r in range(3):
            for c in range(2):
                hot = cur is not None and c == cur[1]
                _cell(
                    ax,
                    4.5 + c,
                    3 - r,
                    str(B[r, c]),
                    face="#DDF0E1" if hot else LIGHT,
                    edge=GREEN if hot else BLUE,
                    lw=2.5 if hot else 1.5,
                )
        ax.text(5.5, 4.3, "B  (3 x 2)", ha="center", fontsize=12)
        ax.text(7.3, 2.0, "=", ha="center", va="center", fontsize=18)
        # C (2x2) at x 8..10, y 1..3
        for r in range(2):
            for c in range(2):
                hot = cur == (r, c)
                shown = (r, c) in done or hot
                _cell(
                    ax,
                    8 + c,
                    2 - r + 1,
                    str(C[r, c]) if shown else "",
                    face="#F3E8C8" if hot else LIGHT,
                    edge=RED if hot else BLUE,
                    lw=2.5 if hot else 1.5,
                    fontsize=11,
                )
        ax.text(9.0, 4.3, "C = A @ B  (2 x 2)", ha="center", fontsize=12)
        if cur is not None:
            i, j = cur
            terms = " + ".join(f"{A[i, k]}·{B[k, j]}" for k in range(3))
            ax.text(
                8.5,
                -1.0,
                f"C[{i},{j}] = row {i} of A · column {j} of B = {terms} = {C[i, j]}",
                ha="center",
                fontsize=11.5,
                family="DejaVu Sans Mono",
            )
        elif frame == "done":
            ax.text(
                8.5,
                -1.0,
                "(2 x 3) @ (3 x 2) -> (2 x 2): inner sizes must match",
                ha="center",
                fontsize=11.5,
                family="DejaVu Sans Mono",
            )
        else:
            ax.text(
                8.5,
                -1.0,
                "each entry of C is a row of A dotted with a column of B",
                ha="center",
                fontsize=11.5,
            )
        ax.text(
            11.4,
            2.0,
            "C[i, j] = Σₖ A[i, k] · B[k, j]",
            fontsize=11.5,
            va="center",
            family="DejaVu Sans Mono",
        )

    frames = [None, *steps, "done"]
    _save_gif(fig, out / "matmul.gif", draw_frame, frames)


def computation_graph(out: Path) -> None:
    """z = x @ w + b, loss = loss_fn(z, y); forward in black, backward (gradients) in
    red."""
    fig, ax = _canvas(11.5, 4.8, (-0.3, 24.3), (-0.6, 9.4))
    leaf_x = dict(face="#F2F2F2", edge=GRAY)
    param = dict(face="#FCE3D2", edge=ORANGE)
    op = dict(face=LIGHT, edge=BLUE)
    _box(ax, 0.0, 6.4, 3.2, 1.6, "x\ninput", **leaf_x)
    _box(ax, 0.0, 3.6, 3.2, 1.6, "w\nrequires_grad", **param)
    _box(ax, 0.0, 0.8, 3.2, 1.6, "b\nrequires_grad", **param)
    _box(ax, 5.5, 5.0, 2.8, 1.6, "matmul\nx @ w", **op)
    _box(ax, 10.3, 3.0, 2.4, 1.6, "add\n+ b", **op)
    _box(ax, 14.6, 3.0, 2.2, 1.6, "z\noutput", face="#FFFFFF", edge=BLUE)
    _box(ax, 14.6, 6.4, 2.2, 1.6, "y\ntarget", **leaf_x)
    _box(ax, 18.4, 3.0, 3.0, 1.6, "loss_fn\n(z, y)", **op)
    _box(ax, 22.0, 3.0, 2.0, 1.6, "loss", face="#F3E8C8", edge=RED)

    _arrow(ax, (3.2, 7.2), (5.5, 6.0))
    _arrow(ax, (3.2, 4.4), (5.5, 5.5))
    _arrow(ax, (8.3, 5.8), (10.3, 4.2))
    _arrow(ax, (3.2, 1.6), (10.3, 3.4))
    _arrow(ax, (12.7, 3.8), (14.6, 3.8))
    _arrow(ax, (16.8, 3.8), (18.4, 3.8))
    _arrow(ax, (16.8, 7.2), (19.9, 4.6))
    _arrow(ax, (21.4, 3.8), (22.0, 3.8))
    # backward
    red = dict(color=RED, ls="--")
    _arrow(ax, (23.0, 3.0), (20.0, 3.0), "", rad=-0.6, **red)
    _arrow(ax, (19.0, 3.0), (15.7, 3.0), "", rad=-0.6, **red)
    _arrow(ax, (15.2, 3.0), (11.8, 3.0), "", rad=-0.6, **red)
    _arrow(ax, (10.3, 3.6), (7.6, 5.0), "", rad=-0.3, **red)
    _arrow(
        ax, (5.5, 5.0), (3.2, 3.9), "∂loss/∂w", rad=-0.3, text_offset=(0.6, -0.8), **red
    )
    _arrow(
        ax,
        (11.0, 3.0),
        (3.2, 1.0),
        "∂loss/∂b",
        rad=-0.15,
        text_offset=(1.5, -1.3),
        **red,
    )
    ax.text(
        17.4,
        0.9,
        "loss.backward()",
        color=RED,
        fontsize=11,
        family="DejaVu Sans Mono",
        ha="center",
    )
    ax.text(
        1.6,
        3.3,
        "→ w.grad",
        color=RED,
        fontsize=11,
        family="DejaVu Sans Mono",
        ha="center",
        va="top",
    )
    ax.text(
        1.6,
        0.5,
        "→ b.grad",
        color=RED,
        fontsize=11,
        family="DejaVu Sans Mono",
        ha="center",
        va="top",
    )
    ax.text(0.0, 9.0, "forward pass builds the graph  →", fontsize=11)
    ax.text(
        9.0,
        9.0,
        "- - backward pass follows it in reverse and fills .grad of the leaves "
        "that require grad",
        fontsize=11,
        color=RED,
    )
    _save_png(fig, out / "computation_graph.png")


def perceptron(out: Path) -> None:
    """One neuron with 5 inputs: weighted sum plus bias, then an activation."""
    fig, ax = _canvas(10, 5.3, (-1.0, 19.0), (-1.0, 9.6))
    ys = [8.0, 6.3, 4.6, 2.9, 1.2]
    sx, sy, r = 9.0, 4.6, 1.2
    for k, y in enumerate(ys, start=1):
        ax.add_patch(
            plt.Circle((1.0, y), 0.6, facecolor="#F2F2F2", edgecolor=GRAY, lw=1.5)
        )
        ax.text(1.0, y, f"$x_{k}$", ha="center", va="center", fontsize=16)
        _arrow(ax, (1.6, y), (sx - r, sy + (y - sy) * 0.25))
        t = 0.42
        ax.text(
            1.6 + t * (sx - r - 1.6),
            y + t * (sy + (y - sy) * 0.25 - y) + 0.4,
            f"$w_{k}$",
            ha="center",
            va="center",
            fontsize=16,
            color=ORANGE,
        )
    ax.add_patch(plt.Circle((sx, sy), r, facecolor=LIGHT, edgecolor=BLUE, lw=2))
    ax.text(sx, sy, "Σ", ha="center", va="center", fontsize=22)
    ax.text(sx, sy + r + 0.5, "bias $b$", ha="center", fontsize=12, color=ORANGE)
    _arrow(ax, (sx, sy + r + 0.35), (sx, sy + r + 0.05), color=ORANGE)
    _box(ax, 12.0, 3.8, 2.4, 1.6, "f\nactivation", fontsize=11)
    _arrow(ax, (sx + r, sy), (12.0, sy), "$z$", text_offset=(0, 0.35), fontsize=12)
    _arrow(ax, (14.4, sy), (16.4, sy))
    ax.text(16.9, sy, "$\\hat{y}$", ha="center", va="center", fontsize=16)
    ax.text(
        9.0,
        -0.2,
        "$\\hat{y} = f\\left(\\sum_{i=1}^{5} w_i x_i + b\\right) = f(\\mathbf{w}^\\top"
        "\\mathbf{x} + b)$",
        ha="center",
        fontsize=16,
    )
    ax.text(1.0, 9.2, "inputs", ha="center", fontsize=11, color=GRAY)
    ax.text(
        14.0,
        8.2,
        "nn.Linear(5, 1) computes $z$;\nf is e.g. torch.sigmoid or ReLU",
        ha="center",
        fontsize=11,
        color="#333333",
    )
    _save_png(fig, out / "perceptron.png")


def relu(out: Path) -> None:
    """ReLU(x) = max(0, x) and its derivative."""
    x = np.linspace(-3, 3, 601)
    with plt.rc_context(STYLE):
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
        ax1.plot(x, np.maximum(0, x), color=BLUE, lw=2.5)
        ax1.set_title("ReLU(x) = max(0, x)")
        ax2.plot(x[x < 0], np.zeros((x < 0).sum()), color=ORANGE, lw=2.5)
        ax2.plot(x[x > 0], np.ones((x > 0).sum()), color=ORANGE, lw=2.5)
        ax2.plot([0], [0], "o", mfc=ORANGE, mec=ORANGE)  # the value PyTorch uses
        ax2.plot([0], [1], "o", mfc="white", mec=ORANGE)
        ax2.set_title("derivative: 0 for x < 0, 1 for x > 0")
        ax2.set_ylim(-0.3, 1.3)
        for ax in (ax1, ax2):
            ax.axhline(0, color="#BBBBBB", lw=0.8, zorder=0)
            ax.axvline(0, color="#BBBBBB", lw=0.8, zorder=0)
            ax.set_xlabel("x")
            ax.grid(alpha=0.3)
        ax2.text(0.15, 0.5, "PyTorch uses 0\nat x = 0", color="#333333", va="center")
        fig.tight_layout()
        _save_png(fig, out / "relu.png")


def gradient_descent(out: Path) -> None:
    """Gradient descent on a 1-D loss: steps against the slope, and a too-large learning
    rate."""

    def loss(w):
        return (w - 2.0) ** 2 + 0.5

    def grad(w):
        return 2.0 * (w - 2.0)

    w_grid = np.linspace(-2.5, 6.5, 400)
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
        for ax, lr, n, title in [
            (axes[0], 0.2, 8, "lr = 0.2: steps shrink as the slope flattens"),
            (axes[1], 0.95, 6, "lr = 0.95: too large, overshoots back and forth"),
        ]:
            ax.plot(w_grid, loss(w_grid), color=GRAY, lw=2)
            ws = [-1.5]
            for _ in range(n):
                ws.append(ws[-1] - lr * grad(ws[-1]))
            ws = np.array(ws)
            ax.plot(ws, loss(ws), "o", color=ORANGE, ms=7, zorder=3)
            for a, b in zip(ws[:-1], ws[1:]):
                ax.annotate(
                    "",
                    xy=(b, loss(b)),
                    xytext=(a, loss(a)),
                    arrowprops={"arrowstyle": "->", "color": ORANGE, "lw": 1.4},
                )
            ax.plot([2.0], [0.5], "*", color=GREEN, ms=14, zorder=4)
            ax.set_title(title)
            ax.set_xlabel("parameter w")
            ax.set_ylabel("loss L(w)")
            ax.set_ylim(-1.0, 22)
            ax.grid(alpha=0.3)
        # tangent at the start, left panel
        w0 = -1.5
        t = np.linspace(w0 - 1.0, w0 + 1.6, 10)
        axes[0].plot(t, loss(w0) + grad(w0) * (t - w0), "--", color=RED, lw=1.3)
        axes[0].text(-0.4, 17.5, "slope dL/dw < 0\nso step right", color=RED)
        axes[0].text(2.35, 0.0, "minimum", color=GREEN, va="center")
        axes[0].text(
            2.0,
            9.0,
            "w ← w − lr · dL/dw",
            fontsize=12,
            family="DejaVu Sans Mono",
            ha="center",
        )
        fig.tight_layout()
        _save_png(fig, out / "gradient_descent.png")


def gradient_descent_types(out: Path) -> None:
    """Real optimisation paths of batch, stochastic and mini-batch gradient descent.

    Exactly the experiment of notebook 05 (``descend``): y = 2x + 1 + noise on 200
    points drawn with torch from seed 0, the line fitted by ``torch.optim.SGD`` with
    lr 0.3 for 30 steps from (w, b) = (-1.5, -1), each step on a fresh random batch of
    200, 1 or 16 points.
    """
    import torch  # the same random draws and float32 steps as the notebook

    g = torch.Generator().manual_seed(SEED)
    x = torch.rand(200, generator=g) * 2 - 1
    y = 2 * x + 1 + 0.3 * torch.randn(200, generator=g)
    lr, steps = 0.3, 30

    def run(batch: int) -> tuple[np.ndarray, float]:
        params = torch.tensor([-1.5, -1.0], requires_grad=True)
        optimizer = torch.optim.SGD([params], lr=lr)
        gen = torch.Generator().manual_seed(SEED)
        path = [params.detach().clone()]
        for _ in range(steps):
            idx = torch.randperm(len(y), generator=gen)[:batch]
            optimizer.zero_grad()
            ((params[0] * x[idx] + params[1] - y[idx]) ** 2).mean().backward()
            optimizer.step()
            path.append(params.detach().clone())
        with torch.no_grad():
            final = ((params[0] * x + params[1] - y) ** 2).mean().item()
        return torch.stack(path).numpy(), final

    xs, ys = x.double().numpy(), y.double().numpy()
    W, Bb = np.meshgrid(np.linspace(-2.2, 4.2, 200), np.linspace(-2.6, 3.2, 200))
    Z = np.mean((W[..., None] * xs + Bb[..., None] - ys) ** 2, axis=-1)
    w_opt, b_opt = np.polyfit(xs, ys, 1)
    runs = [
        ("batch GD\nall 200 points per step", 200, BLUE),
        ("stochastic GD\n1 point per step", 1, RED),
        ("mini-batch GD\n16 points per step", 16, GREEN),
    ]
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(1, 3, figsize=(11.5, 5.0), sharey=True)
        for ax, (title, batch, color) in zip(axes, runs):
            ax.contour(
                W, Bb, Z, levels=np.geomspace(0.1, 20, 14), cmap="Greys", linewidths=0.8
            )
            path, final = run(batch)
            ax.plot(path[:, 0], path[:, 1], "-o", color=color, ms=3, lw=1.4)
            ax.plot(*path[0], "s", color="black", ms=7)
            ax.plot(w_opt, b_opt, "*", color=ORANGE, ms=15, zorder=5)
            ax.set_title(title)
            ax.set_xlabel("weight w")
            ax.text(
                0.03,
                0.96,
                f"{steps} steps, lr = {lr}\nfinal loss {final:.3f}",
                transform=ax.transAxes,
                va="top",
                bbox={"facecolor": "white", "edgecolor": "#CCCCCC"},
            )
        axes[0].set_ylabel("bias b")
        fig.suptitle(
            "Same loss surface (MSE of y = w·x + b), same start ■, minimum ★;\n"
            "the batch size changes how noisy each step is",
            fontsize=12,
        )
        fig.tight_layout()
        _save_png(fig, out / "gradient_descent_types.png")


def custom_dataset_layout(out: Path) -> None:
    """Files on disk -> a Dataset -> a DataLoader -> batches."""
    fig, ax = _canvas(11.5, 4.9, (-0.3, 22.7), (0.9, 10.7))
    mono = {"family": "DejaVu Sans Mono"}
    heads = [(2.8, "files on disk"), (9.9, "Dataset"), (15.9, "DataLoader")]
    for x, head in [*heads, (20.2, "batches")]:
        ax.text(x, 10.1, head, ha="center", va="center", fontsize=12, weight="bold")

    # files on disk (the repository's custom_dataset/ folder)
    _box(ax, 0.0, 1.2, 5.6, 8.3, "", face="#FAFAFA", edge=GRAY)
    tree = (
        "custom_dataset/\n"
        "├── data.txt\n"
        "└── images/\n"
        "    ├── chelsea.jpg\n"
        "    ├── camera.png\n"
        "    ├── coffee.jpg\n"
        "    └── ..."
    )
    ax.text(0.25, 9.2, tree, va="top", linespacing=1.4, **mono)
    ax.text(0.25, 5.2, "data.txt: 'path label' per line", weight="bold")
    table = [
        ("images/chelsea.jpg", "living"),
        ("images/camera.png", "living"),
        ("images/coffee.jpg", "object"),
        ("...", "..."),
    ]
    for r, (f, lab) in enumerate(table):
        yy = 4.4 - r * 0.76
        ax.add_patch(
            Rectangle(
                (0.2, yy - 0.35), 5.2, 0.7, facecolor="white", edgecolor="#BBBBBB"
            )
        )
        ax.text(0.35, yy, f"{f:<20}{lab}", va="center", **mono)

    # Dataset
    _box(
        ax,
        6.5,
        3.2,
        6.8,
        4.6,
        "class CustomImageDataset(Dataset)\n\n"
        "__init__: read data.txt,\n  labels -> class index\n"
        "__len__: number of samples\n__getitem__(index):\n"
        "  decode image index,\n  apply transform,\n"
        "  return (image, target)",
        mono=True,
        ha="left",
    )
    ax.text(9.9, 2.7, "one sample at a time", ha="center", va="center", color=GRAY)
    _arrow(ax, (5.7, 5.5), (6.45, 5.5))

    # DataLoader
    _box(
        ax,
        14.3,
        4.2,
        3.2,
        2.6,
        "DataLoader(\n dataset,\n batch_size=3,\n shuffle=True)",
        mono=True,
        face="#FCE3D2",
        edge=ORANGE,
        ha="left",
    )
    ax.text(
        15.9,
        3.7,
        "shuffles, batches,\nstacks samples\n(same H, W needed:\nresize in transform)",
        ha="center",
        color=GRAY,
        va="top",
    )
    _arrow(ax, (13.35, 5.5), (14.25, 5.5))

    # batches
    for k in range(2):
        y0 = 7.0 - k * 3.4
        for j in range(3):
            ax.add_patch(
                Rectangle(
                    (18.5 + j * 0.55, y0),
                    0.5,
                    1.4,
                    facecolor=[LIGHT, "#DDF0E1", "#FCE3D2"][j],
                    edgecolor=BLUE,
                    lw=1,
                )
            )
        ax.text(20.35, y0 + 0.7, f"batch {k}", va="center")
        ax.text(18.5, y0 - 0.2, "X: [3, C, H, W]\ny: [3]", va="top", **mono)
    _arrow(ax, (17.55, 5.5), (18.4, 5.5))
    _save_png(fig, out / "custom_dataset_layout.png")


def _stretched_cell(ax, x: float, y: float, text: str) -> None:
    """A cell that broadcasting repeats: drawn dashed, because it is not stored."""
    _cell(ax, x, y, text, face="white", edge="#AAAAAA", color=GRAY)
    ax.patches[-1].set_linestyle("--")


def broadcasting(out: Path) -> None:
    """column (2, 1) + row (3,): both are stretched to (2, 3) without copying."""
    fig, ax = _canvas(8, 3.9, (-0.4, 15.6), (-2.7, 5.1))
    column, row = np.array([[1], [2]]), np.array([[10, 20, 30]])
    heads = [
        (1.5, "column", "(2, 1)"),
        (6.5, "row", "(3,)"),
        (12.5, "column + row", "(2, 3)"),
    ]
    for x, title, shape in heads:
        ax.text(x, 4.6, title, ha="center", fontsize=13, weight="bold")
        ax.text(x, 3.75, shape, ha="center", fontsize=12, family="DejaVu Sans Mono")
    for c in (1, 2):
        for r, value in enumerate(column[:, 0]):
            _stretched_cell(ax, c, 2 - r, str(value))
    _grid(ax, 0, 1, column)
    ax.text(4.0, 2.0, "+", ha="center", va="center", fontsize=20)
    for c, value in enumerate(row[0]):
        _stretched_cell(ax, 5 + c, 1, str(value))
    _grid(ax, 5, 2, row)
    ax.text(9.5, 2.0, "=", ha="center", va="center", fontsize=20)
    _grid(ax, 11, 1, column + row, face="#DDF0E1", edge=GREEN)
    table = [("column", "2  1", BLUE), ("row", "   3", BLUE), ("result", "2  3", GREEN)]
    for k, (name, dims, color) in enumerate(table):
        ax.text(
            0.0,
            0.0 - k * 0.9,
            f"{name:<7}{dims}",
            fontsize=12,
            family="DejaVu Sans Mono",
            va="center",
            color=color,
        )
    ax.text(
        5.0,
        -0.9,
        "Shapes line up from the right: each pair of\nsizes must be equal, "
        "or one of them 1 (a\nmissing dim counts as 1). Dashed cells are not\n"
        "stored: a size-1 dim is repeated with stride 0.",
        fontsize=11,
        va="center",
        color="#333333",
        linespacing=1.4,
    )
    _save_png(fig, out / "broadcasting.png")


def reductions(out: Path) -> None:
    """x.sum(dim=0) adds down the columns; x.sum(dim=1) adds along the rows."""
    fig, ax = _canvas(8, 3.8, (-0.6, 17.4), (-2.2, 6.35))
    x = np.array([[1, 2, 3], [4, 5, 6]])
    mono = {"ha": "center", "fontsize": 13, "family": "DejaVu Sans Mono"}
    # left: dim=0 is summed away, one result per column
    ax.text(2.0, 5.6, "x.sum(dim=0)", **mono)
    _grid(ax, 0.5, 2.6, x)
    for c in range(3):
        ax.add_patch(
            FancyBboxPatch(
                (0.62 + c, 2.72),
                0.76,
                1.76,
                boxstyle="round,pad=0.05,rounding_size=0.3",
                fill=False,
                edgecolor=ORANGE,
                lw=2.2,
            )
        )
        _arrow(ax, (1.0 + c, 2.55), (1.0 + c, 1.05), color=ORANGE, lw=2.0)
    _grid(ax, 0.5, 0.0, x.sum(axis=0)[None, :], face="#FCE3D2", edge=ORANGE)
    # right: dim=1 is summed away, one result per row
    ax.text(12.0, 5.6, "x.sum(dim=1)", **mono)
    _grid(ax, 9.5, 2.6, x)
    for r in range(2):
        y = 4.1 - r
        ax.add_patch(
            FancyBboxPatch(
                (9.62, y - 0.38),
                2.76,
                0.76,
                boxstyle="round,pad=0.05,rounding_size=0.3",
                fill=False,
                edgecolor=GREEN,
                lw=2.2,
            )
        )
        _arrow(ax, (12.55, y), (14.05, y), color=GREEN, lw=2.0)
    _grid(ax, 14.2, 2.6, x.sum(axis=1)[:, None], face="#DDF0E1", edge=GREEN)
    notes = [
        (2.0, "shape (2, 3) -> (3,)\none sum per column"),
        (12.0, "shape (2, 3) -> (2,)\none sum per row"),
    ]
    for cx, note in notes:
        ax.text(cx, -0.4, note, ha="center", va="top", fontsize=12, linespacing=1.4)
    ax.plot([7.4, 7.4], [-2.0, 6.2], color="#DDDDDD", lw=1)
    ax.text(
        7.4,
        1.6,
        "the dim you\nname goes away",
        ha="center",
        fontsize=11,
        color=GRAY,
        backgroundcolor="white",
        va="center",
        linespacing=1.4,
    )
    _save_png(fig, out / "reductions.png")


def strides(out: Path) -> None:
    """m and m.T share one block of memory; the strides say how to walk it."""
    fig, ax = _canvas(8, 4.4, (-0.5, 17.5), (-2.2, 7.7))
    ax.text(0.0, 6.9, "memory", fontsize=12, weight="bold", va="center")
    _grid(ax, 3.0, 6.4, np.arange(6)[None, :], face="#F2F2F2", edge=GRAY)
    ax.text(
        9.4,
        6.9,
        "one block, shared by m and m.T",
        fontsize=11,
        color="#333333",
        va="center",
    )
    ax.plot([-0.5, 17.5], [5.6, 5.6], color="#DDDDDD", lw=1)
    base = np.arange(6).reshape(2, 3)
    for x0, title, values, (down, across) in [
        (0.0, "m = arange(6).reshape(2, 3)", base, (3, 1)),
        (9.4, "m.T", base.T, (1, 3)),
    ]:
        rows, cols = values.shape
        top = 4.0
        ax.text(x0, 4.85, title, fontsize=12, family="DejaVu Sans Mono", va="center")
        _grid(ax, x0 + 1.0, top - rows, values)
        x1 = x0 + 1.0 + cols
        _arrow(ax, (x0 + 1.5, top + 0.05), (x0 + 2.5, top + 0.05), color=RED, rad=-0.5)
        _arrow(ax, (x0 + 0.95, top - 0.5), (x0 + 0.95, top - 1.5), color=BLUE, rad=0.5)
        for k, (text, color) in enumerate(
            [
                (f"next column: offset +{across}", RED),
                (f"next row: offset +{down}", BLUE),
            ]
        ):
            ax.text(
                x1 + 0.3, top - 0.5 - k, text, fontsize=11, color=color, va="center"
            )
        flat = values.ravel().tolist()
        contiguous = flat == sorted(flat)
        ax.text(
            x0,
            -0.9,
            f"stride ({down}, {across})\nrow by row: {' '.join(map(str, flat))}\n"
            + ("contiguous" if contiguous else "not contiguous"),
            fontsize=11.5,
            family="DejaVu Sans Mono",
            va="center",
            linespacing=1.4,
            color=GREEN if contiguous else RED,
        )
    _save_png(fig, out / "strides.png")


def data_parallel(out: Path) -> None:
    """DDP: every process holds the whole model and trains on its own shard of the
    batch; an all-reduce averages the gradients, so every copy takes the same step."""
    fig, ax = _canvas(11.0, 4.6, (0.0, 27.5), (0.0, 11.5))
    heads = [
        (2.4, "one step's batch"),
        (10.3, "two processes"),
        (18.5, "DDP, in backward"),
        (24.9, "each process"),
    ]
    for x, head in heads:
        ax.text(x, 10.7, head, ha="center", fontsize=12, weight="bold")
    for k, (color, face) in enumerate([(BLUE, "#DCE6F2"), (ORANGE, "#FCE3D2")]):
        y0 = 5.6 - k * 4.4
        ax.add_patch(
            Rectangle(
                (0.4, y0 + 0.3), 4.0, 3.2, facecolor=face, edgecolor=color, lw=1.6
            )
        )
        shard = f"shard {k}\nB images"
        ax.text(2.4, y0 + 1.9, shard, ha="center", va="center", fontsize=12)
        _arrow(ax, (4.5, y0 + 1.9), (6.1, y0 + 1.9), color=color)
        text = (
            f"process {k}  (RANK={k})\nthe whole model, same weights\n"
            f"forward, loss, backward\n→ gradients g{'₀₁'[k]}"
        )
        _box(ax, 6.2, y0, 8.2, 3.8, text, edge=color, fontsize=12)
        _arrow(ax, (14.5, y0 + 1.9), (16.2, 5.75 + 0.85 * (1 - 2 * k)), color=color)
        step = "optimizer.step()\nthe same update"
        _box(
            ax, 22.6, y0 + 0.6, 4.6, 2.6, step, edge=GREEN, face="#DDF0E1", fontsize=12
        )
        _arrow(ax, (20.8, 5.75 + 0.85 * (1 - 2 * k)), (22.5, y0 + 1.9), color=PURPLE)
    all_reduce = "all-reduce:\n(g₀ + g₁) / 2\nto both"
    _box(ax, 16.3, 3.85, 4.4, 3.8, all_reduce, edge=PURPLE, face="#EEEAF6", fontsize=12)
    ax.text(2.4, 0.6, "2B images in all", ha="center", fontsize=11, color=GRAY)
    ax.text(24.9, 0.6, "the copies stay equal", ha="center", fontsize=11, color=GRAY)
    _save_png(fig, out / "data_parallel.png")


def receptive_field(out: Path) -> None:
    """How far one unit of chapter 06's CNN sees: each 3x3 conv adds 2 steps of the
    current jump, each 2x2 max-pool adds 1 step and doubles the jump."""
    fig, ax = _canvas(11.0, 4.8, (-0.6, 27.0), (-1.8, 10.8))
    for r in range(10):
        for c in range(10):
            _cell(ax, c, r, face="white", edge="#BBBBBB", lw=0.8)
    regions = [  # (x, y, size, colour, label)
        (1, 1, 8, GREEN, "block 2's conv: 8 x 8"),
        (3, 3, 4, ORANGE, "+ max-pool 2x2: 4 x 4"),
        (3.12, 3.12, 2.76, BLUE, "one 3x3 conv: 3 x 3"),
    ]
    for x, y, size, color, _ in regions:
        face = matplotlib.colors.to_rgba(color, 0.15)
        ax.add_patch(Rectangle((x, y), size, size, fc=face, ec=color, lw=3))
    for k, (*_, color, label) in enumerate(regions):
        ax.text(11.0, 9.3 - 1.0 * k, label, fontsize=12, color=color, va="center")
    ax.text(0, 10.2, "input pixels", fontsize=12, weight="bold")
    rows = [
        ("layer", "output", "sees", "jump"),
        ("input", "28 x 28", "1", "1"),
        ("conv 3x3", "28 x 28", "3", "1"),
        ("max-pool 2", "14 x 14", "4", "2"),
        ("conv 3x3", "14 x 14", "8", "2"),
        ("max-pool 2", "7 x 7", "10", "4"),
        ("conv 3x3", "7 x 7", "18", "4"),
        ("max-pool 2", "3 x 3", "22", "8"),
    ]
    for i, row in enumerate(rows):
        for x, text in zip((11.0, 16.2, 20.6, 23.8), row):
            weight = "bold" if i == 0 else "normal"
            y = 6.4 - 0.85 * i
            ax.text(x, y, text, fontsize=12, weight=weight, va="center")
    ax.text(
        11.0,
        -0.8,
        "sees: side of the input square one unit depends on;\n"
        "jump: input pixels between neighbouring units",
        fontsize=11,
        color="#333333",
        va="center",
    )
    _save_png(fig, out / "receptive_field.png")


def roofline(out: Path) -> None:
    """The roofline model: an operation that does few FLOPs per byte it moves is
    limited by memory bandwidth, one that does many by the peak FLOP rate."""
    fig = plt.figure(figsize=(9.0, 4.6))
    ax = fig.add_axes((0.08, 0.12, 0.9, 0.8))
    intensity = np.logspace(-2, 3, 200)
    ridge = 10.0
    ax.loglog(intensity, np.minimum(1.0, intensity / ridge), color=BLUE, lw=2.4)
    ax.axvline(ridge, color=GRAY, ls=":", lw=1.4)
    ax.text(ridge * 1.15, 0.2, "ridge point", fontsize=11, color=GRAY)
    ax.text(0.012, 0.25, "memory-bound: bytes per\nsecond set the pace", fontsize=11)
    ax.text(25, 1.35, "compute-bound: the peak FLOP/s", fontsize=11)
    points = [
        (0.12, "elementwise ops\n(ReLU, an AdamW update)", ORANGE, (0.6, 0.0016)),
        (150.0, "large matmul or\nconvolution", GREEN, (25, 0.06)),
    ]
    for x, label, color, where in points:
        y = min(1.0, x / ridge) * 0.55  # real kernels reach part of the roof
        ax.plot([x], [y], "o", color=color, ms=9)
        ax.annotate(
            label,
            (x, y),
            xytext=where,
            fontsize=11,
            color=color,
            arrowprops=dict(arrowstyle="-", color=color),
        )
    ax.set_xlabel("arithmetic intensity: FLOPs per byte moved (log scale)")
    ax.set_ylabel("FLOP/s reached (log scale)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.minorticks_off()
    ax.set_ylim(0.001, 3.0)
    ax.set_title("Roofline: the slower of memory and arithmetic sets the time")
    _save_png(fig, out / "roofline.png")


def atomic_save(out: Path) -> None:
    """atomic_save: write a temporary file, fsync it, rename it over the target, fsync
    the folder; a crash before the rename leaves the previous checkpoint whole."""
    fig, ax = _canvas(11.0, 3.9, (0.0, 28.0), (0.0, 9.9))
    steps = [
        "write the\ntemporary file",
        "flush + fsync\nthe temporary",
        "os.replace(tmp,\n  last.pt)",
        "fsync the\nfolder",
    ]
    for k, text in enumerate(steps):
        x = 0.6 + 7.0 * k
        _box(ax, x, 5.2, 5.6, 2.6, text, fontsize=12, mono=k == 2)
        if k:
            _arrow(ax, (x - 1.3, 6.5), (x - 0.1, 6.5))
        ax.text(x + 2.8, 8.6, f"step {k + 1}", ha="center", fontsize=11, color=GRAY)
    ax.add_patch(
        Rectangle((0.4, 0.5), 13.1, 3.4, facecolor="#FCE3D2", edgecolor=ORANGE)
    )
    ax.text(
        7.0,
        2.2,
        "crash before the rename:\nlast.pt is the old, complete file",
        ha="center",
        va="center",
        fontsize=12,
    )
    ax.add_patch(
        Rectangle((14.5, 0.5), 13.1, 3.4, facecolor="#DDF0E1", edgecolor=GREEN)
    )
    ax.text(
        21.0,
        2.2,
        "after the rename:\nlast.pt is the new, complete file",
        ha="center",
        va="center",
        fontsize=12,
    )
    _save_png(fig, out / "atomic_save.png")


def favicon(out: Path) -> None:
    """The site's 64x64 icon: a 3x3 grid of tensor cells with one highlighted."""
    fig = plt.figure(figsize=(0.64, 0.64), dpi=DPI)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, 3), ylim=(0, 3), aspect="equal")
    ax.axis("off")
    for row in range(3):
        for col in range(3):
            color = ORANGE if (row, col) == (2, 0) else BLUE
            ax.add_patch(
                plt.Rectangle((col + 0.08, row + 0.08), 0.84, 0.84, color=color)
            )
    _save_png(fig, out / "favicon.png", transparent=True)


FIGURES: dict[str, Callable[[Path], None]] = {
    "tensor_dimensions.png": tensor_dimensions,
    "tensor_image_channels.png": tensor_image_channels,
    "squeeze_unsqueeze.png": squeeze_unsqueeze,
    "matmul.gif": matmul_gif,
    "computation_graph.png": computation_graph,
    "perceptron.png": perceptron,
    "relu.png": relu,
    "gradient_descent.png": gradient_descent,
    "gradient_descent_types.png": gradient_descent_types,
    "custom_dataset_layout.png": custom_dataset_layout,
    "broadcasting.png": broadcasting,
    "reductions.png": reductions,
    "strides.png": strides,
    "data_parallel.png": data_parallel,
    "receptive_field.png": receptive_field,
    "roofline.png": roofline,
    "atomic_save.png": atomic_save,
    "favicon.png": favicon,
}


def draw_all(out: Path) -> list[Path]:
    """Draw every figure into ``out`` and return the written paths."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in FIGURES.items():
        with plt.rc_context(STYLE):
            draw(out)
        written.append(out / name)
    return written


def main(argv: list[str]) -> None:
    out = Path(argv[0]) if argv else HERE
    for path in draw_all(out):
        print(f"wrote {path.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
