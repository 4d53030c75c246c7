"""A Dataset of image files listed in a labels file, one ``path label`` per line.

Taught in notebook 02 (datasets and transforms); later notebooks import it from here.

Every problem with the labels file or with an image it lists is reported when the
dataset is constructed, as a :class:`LabelsFileError` whose message starts with
``<labels file>:<line>:`` and says how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset
from torchvision.io import ImageReadMode, decode_image

__all__ = ["ImageLabelsDataset", "LabelsFileError", "read_labels_file"]


class LabelsFileError(ValueError):
    """A labels file, or an image it lists, cannot be used. The message names the file
    and line."""


def read_labels_file(
    labels_file: str | os.PathLike[str],
) -> list[tuple[Path, str, int]]:
    """Read ``path label`` lines into ``(image path, label, line number)`` tuples.

    Taught in notebook 02 (datasets and transforms).

    Image paths are resolved relative to the folder of the labels file. Blank lines and
    lines starting with ``#`` are skipped. Raises :class:`LabelsFileError` naming the
    file and the line for a missing, empty or non-UTF-8 file, a line without exactly two
    fields, an image that does not exist, and an image listed twice.
    """
    labels_file = Path(labels_file)
    if not labels_file.is_file():
        raise LabelsFileError(
            f"{labels_file}: labels file not found; "
            "create it with one 'path label' line per image"
        )
    raw = labels_file.read_bytes()
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # tolerate a byte-order mark
    except UnicodeDecodeError as err:
        line_no = raw[: err.start].count(b"\n") + 1
        raise LabelsFileError(
            f"{labels_file}:{line_no}: byte {raw[err.start]:#04x} is not valid UTF-8; "
            "save the file as UTF-8"
        ) from None
    entries: list[tuple[Path, str, int]] = []
    first_seen: dict[Path, int] = {}
    for line_no, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) != 2:
            raise LabelsFileError(
                f"{labels_file}:{line_no}: expected 2 fields 'path label', got "
                f"{len(fields)} in {line!r}; "
                "file names and labels cannot contain spaces"
            )
        name, label = fields
        image_path = labels_file.parent / name
        key = image_path.resolve()
        if key in first_seen:
            raise LabelsFileError(
                f"{labels_file}:{line_no}: {name} is already listed on line "
                f"{first_seen[key]}; delete one of the two lines"
            )
        first_seen[key] = line_no
        if not image_path.is_file():
            raise LabelsFileError(
                f"{labels_file}:{line_no}: image {image_path} does not exist; "
                "fix the path (it is relative to the labels file) or add the file"
            )
        entries.append((image_path, label, line_no))
    if not entries:
        raise LabelsFileError(
            f"{labels_file}: no 'path label' lines found; add one line per image"
        )
    return entries


class ImageLabelsDataset(Dataset):
    """Images listed in a labels file, with ``classes`` and ``class_to_idx`` as in
    ImageFolder.

    Taught in notebook 02 (datasets and transforms).

    ``dataset[i]`` is ``(image, target)``: a uint8 RGB tensor of shape (3, H, W) and an
    int class index, each passed through ``transform`` / ``target_transform`` if given.
    With ``verify=True`` every image is decoded once at construction, so a corrupt file
    is reported now rather than in the middle of an epoch.
    """

    def __init__(
        self,
        labels_file: str | os.PathLike[str],
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        verify: bool = True,
    ) -> None:
        self.labels_file = Path(labels_file)
        entries = read_labels_file(self.labels_file)
        self.classes = sorted({label for _, label, _ in entries})
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = [(path, self.class_to_idx[label]) for path, label, _ in entries]
        self.targets = [target for _, target in self.samples]
        self.line_numbers = [line_no for _, _, line_no in entries]
        self.transform = transform
        self.target_transform = target_transform
        if verify:
            for index in range(len(self.samples)):
                self.load_image(index)

    def __len__(self) -> int:
        return len(self.samples)

    def load_image(self, index: int) -> torch.Tensor:
        """Decode image ``index`` as uint8 RGB (grayscale and RGBA files become 3
        channels)."""
        path, _ = self.samples[index]
        try:
            return decode_image(str(path), mode=ImageReadMode.RGB)
        except RuntimeError as err:
            reason = re.sub(
                r"^.*?\.cpp:\d+, ", "", str(err).splitlines()[0]
            )  # drop the C++ location
            raise LabelsFileError(
                f"{self.labels_file}:{self.line_numbers[index]}: {path} is not a "
                f"readable image ({reason}); replace it with a JPEG, PNG, WEBP or GIF "
                "file or delete the line"
            ) from err

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.load_image(index)
        target = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
