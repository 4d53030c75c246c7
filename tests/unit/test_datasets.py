"""torchprimer.datasets on small fabricated folders: good input, every kind of bad
input."""

from __future__ import annotations

import json
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from torchprimer.datasets import ImageLabelsDataset, LabelsFileError, read_labels_file

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_datasets_and_transforms.ipynb"


def make_folder(root: Path) -> Path:
    """Four tiny images in two classes, of different sizes and colour modes; return the
    labels file."""
    images = root / "images"
    images.mkdir(parents=True)
    Image.new("RGB", (12, 8), (200, 10, 10)).save(images / "red.jpg")
    Image.new("L", (6, 9), 128).save(images / "gray.png")
    Image.new("RGBA", (5, 5), (0, 0, 255, 100)).save(images / "blue.png")
    Image.new("RGB", (7, 7), (0, 200, 0)).save(images / "green.jpg")
    labels = root / "data.txt"
    labels.write_text(
        "# a comment\n"
        "\n"
        "images/red.jpg warm\n"
        "   \n"
        "images/gray.png cold\n"
        "  images/blue.png   cold  \n"
        "# another comment\n"
        "images/green.jpg warm\n",
        encoding="utf-8",
    )
    return labels


@pytest.fixture
def labels(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "dataset")


def error_for(labels_file: Path, **kwargs) -> str:
    with pytest.raises(LabelsFileError) as info:
        ImageLabelsDataset(labels_file, **kwargs)
    return str(info.value)


def png_bytes(
    width: int,
    height: int,
    *,
    depth: int = 8,
    color: int = 0,
    raw: bytes | None = None,
    idat: bytes | None = None,
) -> bytes:
    """A PNG built chunk by chunk: ``raw`` is the filtered pixel rows, or ``idat`` the
    compressed data as is (to make files whose pixel data ends early)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0)
    if idat is None:
        idat = zlib.compress(raw if raw is not None else b"")
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", idat)
        + chunk(b"IEND", b"")
    )


# Files that crash torchvision's decoder or would need gigabytes to decode. They are
# all tried in one fresh interpreter, so that a segmentation fault fails these tests
# instead of killing pytest (and one interpreter start-up is enough).
DANGEROUS = {
    "pixel data ends early": (20, 20),
    "60 megapixels": (10_000, 6_000),
    "400 megapixels": (20_000, 20_000),
}
CONSTRUCT_EACH = """
import json, sys
from torchprimer.datasets import ImageLabelsDataset, LabelsFileError
messages = []
for labels_file in sys.argv[1:]:
    try:
        ImageLabelsDataset(labels_file)
        messages.append(None)
    except LabelsFileError as err:
        messages.append(str(err))
print(json.dumps(messages))
"""


@pytest.fixture(scope="module")
def dangerous(tmp_path_factory) -> dict[str, tuple[Path, Path, str | None]]:
    """case -> (labels file, image, the LabelsFileError message or None).

    Each image is a grayscale PNG whose header promises width x height pixels but whose
    data holds five bytes: decoding it fails as "truncated", so a message about its
    size proves that nothing was decoded.
    """
    cases = {}
    for index, (case, (width, height)) in enumerate(DANGEROUS.items()):
        labels_file = make_folder(tmp_path_factory.mktemp("dangerous") / f"case{index}")
        image = labels_file.parent / "images" / "bad.png"
        image.write_bytes(png_bytes(width, height, idat=zlib.compress(b"\x00" * 5)))
        labels_file.write_text(
            "images/red.jpg warm\nimages/bad.png cold\n", encoding="utf-8"
        )
        cases[case] = (labels_file, image)
    result = subprocess.run(
        [sys.executable, "-c", CONSTRUCT_EACH, *(str(f) for f, _ in cases.values())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (
        f"the interpreter died with exit status {result.returncode} "
        f"(-11 is a segmentation fault):\n{result.stderr[-2000:]}"
    )
    messages = json.loads(result.stdout)
    return {
        case: (labels_file, image, message)
        for (case, (labels_file, image)), message in zip(cases.items(), messages)
    }


# ---------------------------------------------------------------- good input


def test_reads_samples_skipping_blank_lines_and_comments(labels):
    dataset = ImageLabelsDataset(labels)
    assert len(dataset) == 4
    assert [path.name for path, _ in dataset.samples] == [
        "red.jpg",
        "gray.png",
        "blue.png",
        "green.jpg",
    ]
    assert dataset.line_numbers == [3, 5, 6, 8]


def test_classes_and_integer_targets_like_imagefolder(labels):
    dataset = ImageLabelsDataset(labels)
    assert dataset.classes == ["cold", "warm"]
    assert dataset.class_to_idx == {"cold": 0, "warm": 1}
    assert dataset.targets == [1, 0, 0, 1]
    _, target = dataset[0]
    assert type(target) is int


def test_every_image_is_uint8_rgb_chw(labels):
    dataset = ImageLabelsDataset(labels)
    shapes = [tuple(dataset[i][0].shape) for i in range(len(dataset))]
    assert shapes == [
        (3, 8, 12),
        (3, 9, 6),
        (3, 5, 5),
        (3, 7, 7),
    ]  # grayscale and RGBA become 3 channels
    assert all(dataset[i][0].dtype == torch.uint8 for i in range(len(dataset)))
    gray = dataset[1][0]
    assert torch.equal(gray[0], gray[1]) and torch.equal(gray[1], gray[2])
    red = dataset[0][0].float().mean(dim=(1, 2))
    assert red[0] > 150 and red[1] < 60 and red[2] < 60


def test_paths_are_relative_to_the_labels_file_not_the_cwd(
    labels, tmp_path, monkeypatch
):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    dataset = ImageLabelsDataset(labels)
    assert all(path.is_file() for path, _ in dataset.samples)
    monkeypatch.chdir(labels.parent.parent)
    relative = ImageLabelsDataset(Path(labels.parent.name) / labels.name)
    assert [p.as_posix() for p, _ in relative.samples][0] == "dataset/images/red.jpg"


def test_transform_and_target_transform_are_applied(labels):
    dataset = ImageLabelsDataset(
        labels,
        transform=v2.Compose(
            [v2.Resize((4, 4)), v2.ToDtype(torch.float32, scale=True)]
        ),
        target_transform=lambda target: target + 10,
    )
    image, target = dataset[2]
    assert image.shape == (3, 4, 4) and image.dtype == torch.float32
    assert 0.0 <= image.min() and image.max() <= 1.0
    assert target == 10


def test_batches_need_a_resize_and_then_stack(labels):
    unresized = DataLoader(ImageLabelsDataset(labels), batch_size=2)
    with pytest.raises(
        RuntimeError, match="stack expects each tensor to be equal size"
    ):
        next(iter(unresized))
    dataset = ImageLabelsDataset(
        labels,
        transform=v2.Compose(
            [v2.Resize((6, 6)), v2.ToDtype(torch.float32, scale=True)]
        ),
    )
    X, y = next(iter(DataLoader(dataset, batch_size=4)))
    assert X.shape == (4, 3, 6, 6)
    assert y.dtype == torch.int64 and y.tolist() == [1, 0, 0, 1]


def test_byte_order_mark_and_windows_line_endings_are_accepted(labels):
    text = labels.read_text(encoding="utf-8").replace("\n", "\r\n")
    labels.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert len(ImageLabelsDataset(labels)) == 4


def test_read_labels_file_returns_paths_labels_and_line_numbers(labels):
    entries = read_labels_file(labels)
    assert [(p.name, label, n) for p, label, n in entries] == [
        ("red.jpg", "warm", 3),
        ("gray.png", "cold", 5),
        ("blue.png", "cold", 6),
        ("green.jpg", "warm", 8),
    ]


# ---------------------------------------------------------------- bad input


def test_missing_labels_file(tmp_path):
    message = error_for(tmp_path / "nope.txt")
    assert "nope.txt" in message and "not found" in message
    assert "one 'path label' line per image" in message  # how to fix it


@pytest.mark.parametrize(
    "content",
    [b"", b"\n\n   \n", b"# only\n# comments\n"],
    ids=["zero-bytes", "blank", "comments"],
)
def test_empty_labels_file(labels, content):
    labels.write_bytes(content)
    message = error_for(labels)
    assert message.startswith(f"{labels}: no 'path label' lines found")
    assert "add one line per image" in message


@pytest.mark.parametrize(
    "line", ["images/red.jpg", "images/red.jpg warm extra", "images/my photo.jpg warm"]
)
def test_wrong_number_of_fields(labels, line):
    labels.write_text(f"images/green.jpg warm\n\n{line}\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:3: expected 2 fields")
    assert repr(line) in message and "cannot contain spaces" in message


def test_listed_image_does_not_exist(labels):
    labels.write_text("images/red.jpg warm\nimages/purple.jpg warm\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:2: image ")
    assert (
        "purple.jpg does not exist" in message
        and "relative to the labels file" in message
    )


def test_image_that_is_a_folder_is_reported_as_a_folder(labels):
    # updated deliberately: it used to say "does not exist", which sends the reader
    # looking for a missing file
    labels.write_text("images warm\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:1: image ")
    assert "is a folder, not a file" in message


@pytest.mark.parametrize("kind", ["text", "truncated-jpeg", "empty-file"])
def test_corrupt_or_non_image_file_fails_at_construction(labels, kind):
    bad = labels.parent / "images" / "bad.jpg"
    if kind == "text":
        bad.write_text("this is not a picture", encoding="utf-8")
    elif kind == "truncated-jpeg":
        bad.write_bytes((labels.parent / "images" / "red.jpg").read_bytes()[:200])
    else:
        bad.write_bytes(b"")
    labels.write_text(
        "images/red.jpg warm\n# comment\nimages/bad.jpg cold\n", encoding="utf-8"
    )
    message = error_for(labels)
    assert message.startswith(f"{labels}:3: ")
    assert "bad.jpg is not a readable image" in message and "delete the line" in message
    assert ".cpp:" not in message  # the C++ source location is stripped


def test_without_verify_a_corrupt_file_fails_on_access_with_the_same_message(labels):
    (labels.parent / "images" / "bad.jpg").write_text("not a picture", encoding="utf-8")
    labels.write_text("images/red.jpg warm\nimages/bad.jpg cold\n", encoding="utf-8")
    dataset = ImageLabelsDataset(labels, verify=False)
    assert dataset[0][0].shape == (3, 8, 12)
    with pytest.raises(LabelsFileError, match=re.escape(f"{labels}:2: ")):
        dataset[1]


@pytest.mark.parametrize(
    "second",
    ["images/red.jpg cold", "./images/red.jpg warm", "images/../images/red.jpg warm"],
)
def test_duplicate_entry(labels, second):
    labels.write_text(
        f"images/red.jpg warm\nimages/green.jpg warm\n{second}\n", encoding="utf-8"
    )
    message = error_for(labels)
    assert message.startswith(f"{labels}:3: ")
    assert (
        "already listed on line 1" in message
        and "delete one of the two lines" in message
    )


def test_non_utf8_text(labels):
    labels.write_bytes(
        b"images/red.jpg warm\n# ok\nimages/caf\xe9.jpg warm\n"
    )  # Latin-1, not UTF-8
    message = error_for(labels)
    assert message.startswith(f"{labels}:3: byte 0xe9 is not valid UTF-8")
    assert "save the file as UTF-8" in message


def test_errors_are_value_errors(tmp_path):
    with pytest.raises(ValueError):
        ImageLabelsDataset(tmp_path / "missing.txt")


# ------------------------------------------- defects found by bad-input testing


def test_png_whose_pixel_data_ends_early_is_an_error_not_a_crash(dangerous):
    # torchvision 0.29's decode_image dies with a segmentation fault on this file
    # (with verify=True that killed the Jupyter kernel); Pillow reports it as truncated
    labels_file, image, message = dangerous["pixel data ends early"]
    assert message is not None
    assert message.startswith(f"{labels_file}:2: {image} is not a readable image (")
    assert "truncated" in message and "delete the line" in message


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("60 megapixels", "10000x6000 = 60,000,000 pixels, more than max_pixels="),
        ("400 megapixels", "has too many pixels to decode safely"),  # Pillow's limit
    ],
)
def test_an_image_with_too_many_pixels_is_refused_before_decoding(
    dangerous, case, expected
):
    # a real 20000x20000 PNG of zeros is 389 KB and takes 1.8 GB to decode
    labels_file, image, message = dangerous[case]
    assert message is not None
    assert message.startswith(f"{labels_file}:2: {image} ")
    assert expected in message and "truncated" not in message


def test_max_pixels_can_be_lowered_and_raised(labels):
    message = error_for(labels, max_pixels=95)  # red.jpg is 12 x 8 = 96 pixels
    assert message.startswith(f"{labels}:3: ")
    assert "12x8 = 96 pixels, more than max_pixels=95" in message
    assert "shrink the image or raise max_pixels" in message
    assert len(ImageLabelsDataset(labels, max_pixels=96)) == 4


def test_16_bit_grayscale_png_is_scaled_to_uint8_not_clipped(labels):
    values = np.array([[0, 255, 256, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(labels.parent / "images" / "deep.png")  # 16-bit
    labels.write_text("images/deep.png cold\n", encoding="utf-8")
    image, _ = ImageLabelsDataset(labels)[0]
    assert image.dtype == torch.uint8 and image.shape == (3, 1, 5)
    assert image[0].flatten().tolist() == [0, 0, 1, 128, 255]  # the high byte
    assert torch.equal(image[0], image[2])


def test_16_bit_rgb_png_is_uint8_and_batches_with_8_bit_images(labels):
    pixels = np.array([[[65535, 0, 32896], [257, 512, 1000]]], dtype=">u2")
    raw = b"\x00" + pixels.tobytes()  # one row, filter type 0
    (labels.parent / "images" / "deep.png").write_bytes(
        png_bytes(2, 1, depth=16, color=2, raw=raw)
    )
    labels.write_text("images/red.jpg warm\nimages/deep.png cold\n", encoding="utf-8")
    dataset = ImageLabelsDataset(labels, transform=v2.Resize((4, 4)))
    assert dataset.load_image(1)[:, 0, :].T.tolist() == [[255, 0, 128], [1, 2, 3]]
    X, _ = next(iter(DataLoader(dataset, batch_size=2)))
    assert X.dtype == torch.uint8 and X.shape == (2, 3, 4, 4)


def test_32_bit_images_are_refused(labels):
    Image.new("I", (3, 3), 70_000).save(labels.parent / "images" / "wide.tif")
    labels.write_text("images/wide.tif cold\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:1: ")
    assert "32-bit pixels (Pillow mode I)" in message and "8-bit" in message


def test_palette_cmyk_and_gray_alpha_images_become_uint8_rgb(labels):
    folder = labels.parent / "images"
    Image.new("P", (4, 3), 7).save(folder / "palette.gif")
    Image.new("CMYK", (4, 3), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    Image.new("LA", (4, 3), (90, 128)).save(folder / "gray_alpha.png")
    labels.write_text(
        "images/palette.gif a\nimages/cmyk.jpg b\nimages/gray_alpha.png c\n",
        encoding="utf-8",
    )
    dataset = ImageLabelsDataset(labels)
    images = [dataset.load_image(i) for i in range(3)]
    assert all(i.shape == (3, 3, 4) and i.dtype == torch.uint8 for i in images)
    assert images[1][:, 0, 0].tolist()[0] > 200  # CMYK red is red in RGB
    assert images[2][:, 0, 0].tolist() == [90, 90, 90]


def test_classes_argument_fixes_the_names_and_their_order(labels):
    dataset = ImageLabelsDataset(labels, classes=["warm", "cold", "unused"])
    assert dataset.classes == ["warm", "cold", "unused"]
    assert dataset.class_to_idx == {"warm": 0, "cold": 1, "unused": 2}
    assert dataset.targets == [0, 1, 1, 0]


@pytest.mark.parametrize(
    ("label", "hint"),
    [
        ("wram", " (did you mean 'warm'?)"),
        ("Cold", " (did you mean 'cold'?)"),
        ("x", ""),
    ],
)
def test_a_label_not_in_classes_names_file_line_and_the_closest_class(
    labels, label, hint
):
    labels.write_text(
        f"images/red.jpg warm\n# note\nimages/green.jpg {label}\n", encoding="utf-8"
    )
    message = error_for(labels, classes=["cold", "warm"])
    assert message == (
        f"{labels}:3: label {label!r} is not one of classes=['cold', 'warm']{hint}; "
        "fix the label or add it to classes"
    )


@pytest.mark.parametrize(
    ("first", "second"), [("cat", "Cat"), ("t-shirt", "T_shirt"), ("7", "07")]
)
def test_labels_that_differ_only_in_spelling_are_reported(labels, first, second):
    # without this check each spelling silently became a class of its own
    labels.write_text(
        f"images/red.jpg {first}\nimages/gray.png other\nimages/green.jpg {second}\n",
        encoding="utf-8",
    )
    message = error_for(labels)
    assert message.startswith(
        f"{labels}:3: label {second!r} looks like {first!r} (line 1) spelled "
        "differently; use one spelling"
    )
    assert "classes=[...]" in message
    assert len(ImageLabelsDataset(labels, classes=[first, second, "other"])) == 3


def test_integer_labels_sort_numerically(labels):
    # sorted as strings, "10" came before "2", so label 2 got index 3
    folder = labels.parent / "images"
    for digit in range(11):
        Image.new("L", (2, 2), digit).save(folder / f"digit{digit}.png")
    labels.write_text(
        "".join(
            f"images/digit{d}.png {d}\n" for d in (2, 10, 0, 1, 3, 4, 5, 6, 7, 8, 9)
        ),
        encoding="utf-8",
    )
    dataset = ImageLabelsDataset(labels)
    assert dataset.classes == [str(d) for d in range(11)]
    assert dataset.targets[:3] == [2, 10, 0]


def test_mixed_labels_sort_as_strings(labels):
    labels.write_text(
        "images/red.jpg 10\nimages/gray.png 2\nimages/green.jpg b\n", encoding="utf-8"
    )
    assert ImageLabelsDataset(labels).classes == ["10", "2", "b"]


@pytest.mark.parametrize(
    ("classes", "error"),
    [
        ("cold warm", TypeError),
        (["cold", 1], TypeError),
        ([], ValueError),
        (["cold", "warm", "cold"], ValueError),
    ],
)
def test_a_bad_classes_argument_is_refused(labels, classes, error):
    with pytest.raises(error, match="classes must"):
        ImageLabelsDataset(labels, classes=classes)


SEPARATE = "delete it (separate the path and the label with spaces or a tab)"


@pytest.mark.parametrize(
    ("content", "line", "described", "fix"),
    [
        (
            b"images/red.jpg warm\nimages/gr\x00een.jpg warm\n",
            2,
            "U+0000, NUL",
            "is the file UTF-16? save it as UTF-8",
        ),
        (
            "images/red.jpg warm\n".encode("utf-16-le"),
            1,
            "U+0000, NUL",
            "is the file UTF-16? save it as UTF-8",
        ),
        (
            b"images/red.jpg warm\nimages/green.jpg\x0cwarm\n",
            2,
            "U+000C, form feed",
            SEPARATE,
        ),
        ("images/red.jpg\u2028warm\n".encode(), 1, "U+2028, line separator", SEPARATE),
        ("images/red.jpg\u00a0warm\n".encode(), 1, "U+00A0, no-break space", SEPARATE),
        (
            "images/red.jpg warm\u200b\n".encode(),
            1,
            "U+200B, zero width space",
            SEPARATE,
        ),
        (b"images/red.jpg\x1fwarm\n", 1, "U+001F, control code", SEPARATE),
        (
            b"images/red.jpg warm\rimages/green.jpg warm\r",
            1,
            "U+000D, carriage return",
            "save the file with \\n or \\r\\n line ends",
        ),
    ],
    ids=["nul", "utf-16", "ff", "u2028", "nbsp", "zero-width", "us", "cr-only"],
)
def test_an_invisible_character_names_file_and_line(
    labels, content, line, described, fix
):
    # a NUL byte used to end in "embedded null byte" with no file or line
    labels.write_bytes(content)
    message = error_for(labels)
    assert message.startswith(f"{labels}:{line}: invisible character ({described}) in ")
    assert message.endswith(f"; {fix}")


def test_form_feed_and_line_separator_do_not_shift_line_numbers(labels):
    # str.splitlines() also ends a line at \f, \v, \x1c-\x1e, \x85, U+2028 and U+2029
    labels.write_text(
        "images/red.jpg warm\n# page\x0cbreak \x0b\x1c\x1d\x1e\x85\u2028\u2029\n"
        "images/nope.jpg warm\n",
        encoding="utf-8",
    )
    assert error_for(labels).startswith(f"{labels}:3: image ")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_a_named_pipe_is_not_a_regular_file(labels):
    # it used to be reported as "does not exist"; opening it would block forever
    fifo = labels.parent / "pipe"
    os.mkfifo(fifo)
    message = error_for(fifo)
    assert message.startswith(f"{fifo}: labels file is not a regular file")
    assert "named pipe" in message
    labels.write_text("images/red.jpg warm\npipe cold\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:2: image {fifo} is not a regular file")


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="no /dev/null here")
def test_a_device_is_not_a_regular_file(labels):
    assert "not a regular file (it is a device" in error_for(Path("/dev/null"))
    labels.write_text("images/red.jpg warm\n/dev/zero cold\n", encoding="utf-8")
    assert error_for(labels).startswith(
        f"{labels}:2: image /dev/zero is not a regular file (it is a device"
    )


def test_a_folder_given_as_labels_file(labels):
    message = error_for(labels.parent)
    assert message.startswith(f"{labels.parent}: labels file is a folder, not a file")


def test_an_image_deleted_after_construction_names_file_and_line(labels):
    dataset = ImageLabelsDataset(labels, verify=False)
    (labels.parent / "images" / "gray.png").unlink()
    with pytest.raises(LabelsFileError, match=re.escape(f"{labels}:5: ")) as info:
        dataset[1]
    assert "gray.png does not exist" in str(info.value)


def test_a_windows_path_names_the_backslash_and_the_fix(labels):
    labels.write_text("images\\red.jpg warm\n", encoding="utf-8")
    message = error_for(labels)
    assert message.startswith(f"{labels}:1: image images\\red.jpg does not exist")
    assert "backslash" in message and "write images/red.jpg instead" in message


@pytest.mark.parametrize(("orientation", "turned"), [(1, False), (6, True), (8, True)])
def test_a_photo_is_decoded_upright_by_its_exif_orientation(
    labels, orientation, turned
):
    """A phone stores a portrait photo sideways, 20 wide and 10 high, with the EXIF
    orientation 6 (or 8): every image viewer shows it upright, 10 wide and 20 high."""
    sideways = Image.new("RGB", (20, 10), (200, 30, 30))
    sideways.paste((30, 30, 200), (0, 0, 5, 10))  # a blue band on the left edge
    exif = Image.Exif()
    exif[0x0112] = orientation
    sideways.save(labels.parent / "images" / "phone.jpg", exif=exif, quality=95)
    labels.write_text("images/phone.jpg photo\n", encoding="utf-8")
    image, _ = ImageLabelsDataset(labels)[0]
    assert tuple(image.shape) == ((3, 20, 10) if turned else (3, 10, 20))
    # turned upright, the left edge is the top (6: turn clockwise) or the bottom (8)
    blue = image[2].float()
    band = {1: blue[:, :5], 6: blue[:5, :], 8: blue[-5:, :]}[orientation]
    assert band.mean() > 150 and blue.mean() < 100, blue
