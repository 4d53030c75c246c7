"""The committed concept figures are exactly what images/draw_figures.py draws (pixel
for pixel), and every figure is readable when the book shrinks it to its column."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
from PIL import Image, ImageSequence

ROOT = Path(__file__).resolve().parents[2]
IMAGES = ROOT / "images"


def _load_module():
    spec = importlib.util.spec_from_file_location(
        "draw_figures", IMAGES / "draw_figures.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


draw_figures = _load_module()
NAMES = sorted(draw_figures.FIGURES)


def frames(path: Path) -> list[np.ndarray]:
    """Every frame of a PNG or GIF as an RGB array."""
    with Image.open(path) as im:
        return [
            np.asarray(frame.convert("RGB")) for frame in ImageSequence.Iterator(im)
        ]


@pytest.fixture(scope="module")
def redrawn(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("figures")
    draw_figures.draw_all(out)
    return out


def test_every_figure_the_notebooks_may_use_is_committed():
    missing = [n for n in NAMES if not (IMAGES / n).is_file()]
    assert not missing, f"run `make figures`: missing {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_redraw_matches_committed_pixels(redrawn, name):
    committed, fresh = frames(IMAGES / name), frames(redrawn / name)
    assert len(fresh) == len(committed), (
        f"{name}: {len(fresh)} frames drawn, {len(committed)} committed"
    )
    for k, (a, b) in enumerate(zip(committed, fresh)):
        assert a.shape == b.shape, (
            f"{name} frame {k}: size {b.shape} drawn, {a.shape} committed"
        )
        differing = int(np.any(a != b, axis=-1).sum())
        assert differing == 0, (
            f"{name} frame {k}: {differing} pixels differ from the committed file; "
            "run `make figures` and commit the result"
        )


def test_matmul_gif_is_animated_and_loops(redrawn):
    with Image.open(redrawn / "matmul.gif") as im:
        assert im.n_frames >= 4, "one frame per entry of the 2 x 2 product at least"
        assert im.info.get("loop") == 0


def test_png_files_carry_no_software_or_time_metadata(redrawn):
    for name in NAMES:
        if name.endswith(".png"):
            with Image.open(redrawn / name) as im:
                text_keys = set(getattr(im, "text", {}))
            assert not text_keys & {"Software", "Creation Time", "date:create"}, (
                f"{name}: {text_keys}"
            )


def test_committed_figures_fit_the_column():
    too_wide = {}
    for name in NAMES:
        with Image.open(IMAGES / name) as im:
            if im.width > draw_figures.MAX_WIDTH_PX:
                too_wide[name] = im.width
    assert not too_wide, f"wider than {draw_figures.MAX_WIDTH_PX} px: {too_wide}"


def _figure(width_in: float, text: str, fontsize: float):
    fig = plt.figure(figsize=(width_in, 1.0))
    fig.text(0.05, 0.5, text, fontsize=fontsize)
    return fig


def test_saving_refuses_text_smaller_than_11_pt(tmp_path):
    fig = _figure(4.0, "tiny label", fontsize=8)
    with pytest.raises(ValueError, match=r"tiny\.png.*'tiny label' at 8 pt"):
        draw_figures._save_png(fig, tmp_path / "tiny.png")
    assert not (tmp_path / "tiny.png").exists()


def test_saving_refuses_small_tick_labels(tmp_path):
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.plot([0, 1])
    ax.tick_params(labelsize=9)
    with pytest.raises(ValueError, match=r"ticks\.png.*'0\.0' at 9 pt"):
        draw_figures._save_png(fig, tmp_path / "ticks.png")


def test_saving_refuses_a_figure_wider_than_the_limit(tmp_path):
    fig = _figure(12.0, "wide", fontsize=11)
    with pytest.raises(ValueError, match=r"wide\.png: 1200 px wide.*1160"):
        draw_figures._save_png(fig, tmp_path / "wide.png")
    assert not (tmp_path / "wide.png").exists()


def test_saving_accepts_11_pt_text_at_the_widest_size(tmp_path):
    fig = _figure(draw_figures.MAX_WIDTH_PX / draw_figures.DPI, "just right", 11)
    draw_figures._save_png(fig, tmp_path / "ok.png")
    with Image.open(tmp_path / "ok.png") as im:
        assert im.width == draw_figures.MAX_WIDTH_PX


def test_animation_refuses_a_frame_with_small_text(tmp_path):
    fig = _figure(4.0, "frame 0", fontsize=11)

    def draw_frame(k: int) -> None:
        fig.texts[0].set_text(f"frame {k}")
        fig.texts[0].set_fontsize(11 if k < 2 else 7)

    with pytest.raises(ValueError, match=r"anim\.gif.*'frame 2' at 7 pt"):
        draw_figures._save_gif(fig, tmp_path / "anim.gif", draw_frame, [0, 1, 2])
    assert not (tmp_path / "anim.gif").exists()
