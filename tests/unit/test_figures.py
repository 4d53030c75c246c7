"""The committed concept figures are exactly what images/draw_figures.py draws (pixel
for pixel)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

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
