"""Rebuild custom_dataset/ from the sample photos that the scikit-image wheel bundles.

Run from the repository root:  .venv/bin/python custom_dataset/make_custom_dataset.py

Each photo is downscaled (and the rocket cropped to a portrait) so that the folder
stays small while the images keep *different* sizes, and two of them stay grayscale:
exactly the mess a real folder of photos has. The output is deterministic.
"""

from __future__ import annotations

from pathlib import Path

import skimage.data
from PIL import Image

SOURCE = Path(skimage.data.__file__).parent
HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"

# (file in skimage/data, file written here, label, width written, crop box or None)
PHOTOS: list[tuple[str, str, str, int, tuple[int, int, int, int] | None]] = [
    ("chelsea.png", "chelsea.jpg", "living", 240, None),  # 451x300 RGB
    ("astronaut.png", "astronaut.jpg", "living", 200, None),  # 512x512 RGB
    ("camera.png", "camera.png", "living", 176, None),  # 512x512 grayscale
    ("coffee.png", "coffee.jpg", "object", 216, None),  # 600x400 RGB
    ("coins.png", "coins.jpg", "object", 192, None),  # 384x303 grayscale
    ("rocket.jpg", "rocket.jpg", "object", 128, (200, 0, 480, 427)),  # 640x427 RGB
]

HEADER = """\
# custom_dataset/data.txt: one "path label" line per image.
# Paths are relative to this file. Blank lines and lines starting with # are skipped.
"""


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    lines = [HEADER]
    for source, target, label, width, box in PHOTOS:
        with Image.open(SOURCE / source) as photo:
            photo.load()
            if box is not None:
                photo = photo.crop(box)
            height = round(photo.height * width / photo.width)
            small = photo.resize((width, height), Image.Resampling.LANCZOS)
        options = (
            {"quality": 85, "optimize": True}
            if target.endswith(".jpg")
            else {"optimize": True}
        )
        small.save(IMAGES / target, **options)
        lines.append(f"images/{target} {label}\n")
        size = f"{width}x{height}"
        print(f"{source:>15} -> images/{target:<14} {small.mode:<3} {size}  {label}")
    (HERE / "data.txt").write_text("".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
