"""torchprimer.datasets on small fabricated folders: good input, every kind of bad
input."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from torchprimer import datasets as tpdatasets
from torchprimer.datasets import ImageLabelsDataset, LabelsFileError, read_labels_file

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "02_datasets_and_transforms.ipynb"

# torchvision 0.29 deprecates its image decoders in favour of TorchCodec; the warning
# is not ours to test.
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


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


def test_image_that_is_a_folder_is_reported_as_missing(labels):
    labels.write_text("images warm\n", encoding="utf-8")
    assert error_for(labels).startswith(f"{labels}:1: image ")


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


# ---------------------------------------------------------------- taught in notebook 02


def _definitions(source: str) -> dict[str, str]:
    tree = ast.parse(source)
    return {
        node.name: ast.get_source_segment(source, node)
        for node in tree.body
        if isinstance(node, (ast.ClassDef, ast.FunctionDef))
    }


def test_notebook_teaches_exactly_the_module_code():
    cells = json.loads(NOTEBOOK.read_text(encoding="utf-8"))["cells"]
    taught: dict[str, str] = {}
    for cell in cells:
        if cell["cell_type"] == "code":
            source = (
                "".join(cell["source"])
                if isinstance(cell["source"], list)
                else cell["source"]
            )
            if not source.lstrip().startswith(("%", "!")):
                taught.update(_definitions(source))
    module = _definitions(Path(tpdatasets.__file__).read_text(encoding="utf-8"))
    for name in ("LabelsFileError", "read_labels_file", "ImageLabelsDataset"):
        assert taught.get(name) == module[name], (
            f"notebook 02 and torchprimer/datasets.py disagree on {name}"
        )
