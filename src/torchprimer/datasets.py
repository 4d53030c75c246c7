"""A Dataset of image files listed in a labels file, one ``path label`` per line.

Hand-written. Chapter 02 writes a short ``Dataset`` of its own, then imports this robust
one and says what it checks; the docstrings below list every check.

Every problem with the labels file or with an image it lists is reported when the
dataset is constructed, as a :class:`LabelsFileError` whose message starts with
``<labels file>:<line>:`` and says how to fix it. Images are decoded by Pillow, which
reports a damaged file as an exception: torchvision's own decoders are deprecated since
torchvision 0.29, and its ``decode_image`` crashes the whole process (a segmentation
fault) on a PNG whose pixel data ends early.
"""

from __future__ import annotations

import difflib
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

__all__ = [
    "IMAGE_FORMATS",
    "MAX_PIXELS",
    "ImageLabelsDataset",
    "LabelsFileError",
    "find_classes",
    "load_rgb_image",
    "read_labels_file",
]

# 50 megapixels (150 MB as uint8 RGB): more than any camera photo a beginner has, far
# less than the 20000 x 20000 PNG of 389 KB that would need 1.2 GB to decode.
MAX_PIXELS = 50_000_000
# The formats Pillow may open; other files are reported as not an image.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")
_FORMAT_NAMES = "a JPEG, PNG, WEBP, GIF, BMP or TIFF file"
_REPLACE = "replace it with a JPEG, PNG, WEBP or GIF file or delete the line"
_INTEGER = re.compile(r"-?[0-9]+")
_CONTROL_NAMES = {
    "\x00": "NUL",
    "\x0b": "vertical tab",
    "\x0c": "form feed",
    "\r": "carriage return",
}
_SEPARATE = "delete it (separate the path and the label with spaces or a tab)"
_FIXES = {
    "\x00": "is the file UTF-16? save it as UTF-8",
    "\r": "save the file with \\n or \\r\\n line ends",
}


class LabelsFileError(ValueError):
    """A labels file, or an image it lists, cannot be used. The message names the file
    and line."""


def _file_problem(path: Path) -> str | None:
    """Why ``path`` cannot be read as a file, or None if it is a regular file.

    Only ``stat`` is called: opening a FIFO or a device such as /dev/zero could block
    or never end.
    """
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return "does not exist"
    except OSError as err:
        return f"cannot be read ({err.strerror})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a device or socket"
    return f"is not a regular file (it is {kind})"


def _read_text(labels_file: Path) -> str:
    """The text of a labels file, decoded as UTF-8 (a byte-order mark is dropped)."""
    problem = _file_problem(labels_file)
    if problem == "does not exist":
        raise LabelsFileError(
            f"{labels_file}: labels file not found; "
            "create it with one 'path label' line per image"
        )
    if problem is not None:
        raise LabelsFileError(
            f"{labels_file}: labels file {problem}; "
            "pass a text file with one 'path label' line per image"
        )
    try:
        raw = labels_file.read_bytes()
    except OSError as err:  # e.g. no permission to read it
        raise LabelsFileError(
            f"{labels_file}: labels file cannot be read ({err.strerror})"
        ) from None
    try:
        return raw.decode("utf-8").removeprefix("\ufeff")  # tolerate a byte-order mark
    except UnicodeDecodeError as err:
        line_no = raw[: err.start].count(b"\n") + 1
        raise LabelsFileError(
            f"{labels_file}:{line_no}: byte {raw[err.start]:#04x} is not valid UTF-8; "
            "save the file as UTF-8"
        ) from None


def _hidden_character(line: str) -> tuple[str, str] | None:
    """The first invisible character in ``line`` other than space and tab, described,
    and how to fix it; None if there is none."""
    for char in line:
        if char in " \t":
            continue
        if char.isspace() or unicodedata.category(char) in ("Cc", "Cf"):
            name = _CONTROL_NAMES.get(char) or unicodedata.name(char, "").lower()
            name = name or "control code"
            return f"U+{ord(char):04X}, {name}", _FIXES.get(char, _SEPARATE)
    return None


def read_labels_file(
    labels_file: str | os.PathLike[str],
) -> list[tuple[Path, str, int]]:
    """Read ``path label`` lines into ``(image path, label, line number)`` tuples.

    The file is UTF-8 text; only ``\\n`` ends a line (``\\r\\n`` is accepted), so line
    numbers match what an editor shows. Fields are separated by spaces or tabs. Image
    paths are resolved relative to the folder of the labels file, with ``/`` between
    folders on every system (a Windows ``\\`` is reported). Blank lines and lines
    starting with ``#`` are skipped. Raises :class:`LabelsFileError` naming the file and
    the line for a missing, non-regular, empty or non-UTF-8 file, an invisible character
    (NUL, form feed, U+2028, no-break space, ...), a line without exactly two fields, an
    image that does not exist or is not a regular file, and an image listed twice.
    """
    labels_file = Path(labels_file)
    text = _read_text(labels_file)
    entries: list[tuple[Path, str, int]] = []
    first_seen: dict[Path, int] = {}
    for line_no, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r").strip(" \t")
        if not line or line.startswith("#"):
            continue
        where = f"{labels_file}:{line_no}"
        hidden = _hidden_character(line)
        if hidden is not None:
            described, fix = hidden
            raise LabelsFileError(
                f"{where}: invisible character ({described}) in {line!r}; {fix}"
            )
        fields = line.split()  # only spaces and tabs are left to split on
        if len(fields) != 2:
            raise LabelsFileError(
                f"{where}: expected 2 fields 'path label', got "
                f"{len(fields)} in {line!r}; "
                "file names and labels cannot contain spaces"
            )
        name, label = fields
        image_path = labels_file.parent / name
        key = image_path.resolve()
        if key in first_seen:
            raise LabelsFileError(
                f"{where}: {name} is already listed on line "
                f"{first_seen[key]}; delete one of the two lines"
            )
        first_seen[key] = line_no
        problem = _file_problem(image_path)
        if problem == "does not exist" and "\\" in name and os.sep != "\\":
            forward = name.replace("\\", "/")
            raise LabelsFileError(
                f"{where}: image {name} does not exist: its path separates folders "
                f"with a backslash (\\), as Windows writes them; write {forward} "
                "instead (/ works on every system)"
            )
        if problem == "does not exist":
            raise LabelsFileError(
                f"{where}: image {image_path} does not exist; "
                "fix the path (it is relative to the labels file) or add the file"
            )
        if problem is not None:
            raise LabelsFileError(
                f"{where}: image {image_path} {problem}; list an image file instead"
            )
        entries.append((image_path, label, line_no))
    if not entries:
        raise LabelsFileError(
            f"{labels_file}: no 'path label' lines found; add one line per image"
        )
    return entries


def _spelling_key(label: str) -> str:
    """Labels with the same key are one class spelled two ways: ``Cat``/``cat``,
    ``t-shirt``/``T_shirt``, ``7``/``07``."""
    if _INTEGER.fullmatch(label):
        return str(int(label))
    return re.sub(r"[-_]", "", label.casefold()) or label


def _check_class_list(classes: Sequence[str]) -> list[str]:
    if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
        raise TypeError(
            f"classes must be a list of str such as ['cat', 'dog'], not {classes!r}"
        )
    names = list(classes)
    repeated = sorted({name for name in names if names.count(name) > 1})
    if not names or repeated:
        raise ValueError(
            f"classes must list each class name once, got {names!r}"
            + (f" ({repeated} repeated)" if repeated else "")
        )
    return names


def find_classes(
    entries: Sequence[tuple[Path, str, int]],
    labels_file: str | os.PathLike[str],
    classes: Sequence[str] | None = None,
) -> list[str]:
    """The class names, in index order, for the labels in ``entries``.

    With ``classes``: exactly that list, in that order; a label not in it is an error
    that suggests the closest class. Without: the distinct labels, sorted numerically if
    every label is an integer (``2`` before ``10``: when the labels are ``0..K``, label
    ``k`` gets index ``k``) and as strings otherwise; two labels that differ only in
    capitalisation, ``-``/``_`` or leading zeros are an error, since they are usually
    one class spelled two ways (pass ``classes`` if they really are two classes).
    Errors are :class:`LabelsFileError` naming ``labels_file`` and the line.
    """
    if classes is not None:
        names = _check_class_list(classes)
        for _, label, line_no in entries:
            if label not in names:
                keys = {_spelling_key(name): name for name in names}
                close = keys.get(_spelling_key(label)) or next(
                    iter(difflib.get_close_matches(label, names, n=1)), None
                )
                hint = f" (did you mean {close!r}?)" if close else ""
                raise LabelsFileError(
                    f"{labels_file}:{line_no}: label {label!r} is not one of "
                    f"classes={names}{hint}; fix the label or add it to classes"
                )
        return names
    first_line: dict[str, int] = {}
    for _, label, line_no in entries:
        first_line.setdefault(label, line_no)
    spelled: dict[str, str] = {}
    for label, line_no in first_line.items():
        other = spelled.setdefault(_spelling_key(label), label)
        if other != label:
            raise LabelsFileError(
                f"{labels_file}:{line_no}: label {label!r} looks like {other!r} "
                f"(line {first_line[other]}) spelled differently; use one spelling, "
                "or pass classes=[...] if they are different classes"
            )
    if all(_INTEGER.fullmatch(label) for label in first_line):
        return sorted(first_line, key=int)
    return sorted(first_line)


def load_rgb_image(
    path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS
) -> torch.Tensor:
    """Decode an image file into a uint8 RGB tensor of shape (3, H, W).

    Grayscale, palette, RGBA and CMYK files become 3 channels; 16-bit files are scaled
    to 8 bits (keeping the high byte, so 65535 becomes 255), not clipped. A photo with
    an EXIF orientation tag (phones store portrait photos sideways) is turned upright,
    as image viewers show it. The size is
    read from the header first, so an image of more than ``max_pixels`` pixels is
    refused before it is decoded. Raises ValueError naming ``path`` and the problem.
    """
    problem = _file_problem(Path(path))
    if problem is not None:
        raise ValueError(f"{path} {problem}")
    try:
        image = Image.open(path, formats=IMAGE_FORMATS)  # reads the header only
    except Image.DecompressionBombError as err:  # over Pillow's own limit
        raise ValueError(
            f"{path} has too many pixels to decode safely ({err})"
        ) from None
    except Exception as err:
        reason = f"not {_FORMAT_NAMES}"
        if not isinstance(err, UnidentifiedImageError):
            reason = str(err)
        raise ValueError(
            f"{path} is not a readable image ({reason}); {_REPLACE}"
        ) from None
    with image:
        width, height = image.size
        if width * height > max_pixels:
            raise ValueError(
                f"{path} has {width}x{height} = {width * height:,} pixels, more than "
                f"max_pixels={max_pixels:,}; shrink the image or raise max_pixels"
            )
        if image.mode in ("I", "F"):
            raise ValueError(
                f"{path} has 32-bit pixels (Pillow mode {image.mode}); "
                "save it as an 8-bit image"
            )
        try:
            image.load()  # decodes: a damaged file fails here
        except Exception as err:  # Pillow raises OSError, SyntaxError, ValueError, ...
            raise ValueError(
                f"{path} is not a readable image ({err}); {_REPLACE}"
            ) from None
        if image.mode.startswith("I;16"):  # 16-bit grayscale; RGB(A) is 8-bit already
            image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8))
        # a phone stores a portrait photo sideways, with an EXIF tag saying how to turn
        # it: turn it as every image viewer does (no tag: unchanged)
        image = ImageOps.exif_transpose(image)
        rgb = np.array(image.convert("RGB"))  # (H, W, 3) uint8
    return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()  # (3, H, W)


class ImageLabelsDataset(Dataset):
    """Images listed in a labels file, with ``classes`` and ``class_to_idx`` as in
    ImageFolder.

    ``dataset[i]`` is ``(image, target)``: a uint8 RGB tensor of shape (3, H, W) and an
    int class index, each passed through ``transform`` / ``target_transform`` if given.
    ``classes`` fixes the class names and their order (see :func:`find_classes`); an
    image of more than ``max_pixels`` pixels is refused. With ``verify=True`` every
    image is decoded once at construction, so a damaged file is reported now rather
    than in the middle of an epoch.
    """

    def __init__(
        self,
        labels_file: str | os.PathLike[str],
        transform: Callable[[torch.Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        verify: bool = True,
        classes: Sequence[str] | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.labels_file = Path(labels_file)
        entries = read_labels_file(self.labels_file)
        self.classes = find_classes(entries, self.labels_file, classes)
        self.class_to_idx = {name: index for index, name in enumerate(self.classes)}
        self.samples = [(path, self.class_to_idx[label]) for path, label, _ in entries]
        self.targets = [target for _, target in self.samples]
        self.line_numbers = [line_no for _, _, line_no in entries]
        self.transform = transform
        self.target_transform = target_transform
        self.max_pixels = max_pixels
        if verify:
            for index in range(len(self.samples)):
                self.load_image(index)

    def __len__(self) -> int:
        return len(self.samples)

    def load_image(self, index: int) -> torch.Tensor:
        """Decode image ``index`` as uint8 RGB; a problem names the labels file line."""
        path, _ = self.samples[index]
        try:
            return load_rgb_image(path, self.max_pixels)
        except ValueError as err:
            line_no = self.line_numbers[index]
            raise LabelsFileError(f"{self.labels_file}:{line_no}: {err}") from None

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = self.load_image(index)
        target = self.targets[index]
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target
