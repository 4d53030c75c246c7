"""Checks for the exercises of chapter 02
(notebooks/exercises/02_datasets_and_transforms_*.ipynb)."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from torchprimer.exercises import (
    Answers,
    NotYet,
    Registry,
    attempt,
    describe,
    whole_number,
)

registry = Registry("02")
check = registry.check


def _sample(dataset: Any, index: int, name: str) -> tuple[Any, Any]:
    """``dataset[index]``, which must be an (image, target) pair."""
    sample = attempt(f"{name}[{index}]", dataset.__getitem__, index)
    if not isinstance(sample, tuple | list) or len(sample) != 2:
        raise NotYet(
            f"`{name}[{index}]` returned {describe(sample)}; it should return a "
            "pair `(image, label)`."
        )
    return sample[0], sample[1]


def _length(dataset: Any, name: str, want: int) -> None:
    length = attempt(f"len({name})", dataset.__len__)
    if not isinstance(length, int) or isinstance(length, bool):
        raise NotYet(
            f"`{name}.__len__()` returned {describe(length)}; it should return the "
            "number of samples, an int."
        )
    if length != want:
        raise NotYet(
            f"`len({name})` is {length} for {want} samples; `__len__` should return "
            "the number of samples."
        )


def _class_index(label: Any, name: str, index: int) -> int:
    """A label that collates into an int64 tensor: an int, or an integer 0-d tensor."""
    if isinstance(label, torch.Tensor) and label.ndim == 0:
        if label.is_floating_point() or label.dtype == torch.bool:
            raise NotYet(
                f"The label of `{name}[{index}]` is a {label.dtype} tensor; a class "
                "index is an integer (`CrossEntropyLoss` wants int64 class indices)."
            )
        return int(label)
    if isinstance(label, int) and not isinstance(label, bool):
        return label
    if isinstance(label, str):
        raise NotYet(
            f"The label of `{name}[{index}]` is the string {label!r}. A DataLoader "
            "would batch the strings into a tuple, and a loss needs class indices: "
            "return the label's position in `self.classes`, an int."
        )
    raise NotYet(
        f"The label of `{name}[{index}]` is {describe(label)}; it should be the "
        "class index, an int."
    )


def _scaling_problem(image: torch.Tensor, images: torch.Tensor, index: int) -> str:
    """Why ``image`` is not ``images[index]`` as float32 in [0, 1]."""
    pixels = images[index].unsqueeze(0).float()
    want = pixels / 255
    for other in range(len(images)):
        if other != index and torch.allclose(image, images[other] / 255, atol=1e-5):
            return (
                f"The image of `dataset[{index}]` is `images[{other}]` scaled to 0..1: "
                "`__getitem__` should use its `index`."
            )
    if torch.allclose(image, pixels, atol=1e-3):
        return "The pixels are still 0..255; scale them to 0..1 (divide by 255)."
    if torch.allclose(image, pixels / 256, atol=1e-5):
        return (
            "The pixels are divided by 256; the largest uint8 value is 255, so divide "
            "by 255 to map 0..255 onto 0..1."
        )
    return (
        f"The image of `dataset[{index}]` has values from {image.min():.3f} to "
        f"{image.max():.3f}; `images[{index}] / 255` runs from {want.min():.3f} to "
        f"{want.max():.3f}. Scale every image the same way, by 255 (not by its own "
        "maximum or range), so that a pixel value means the same in every image."
    )


@registry.exercise("tensor_dataset")
def _tensor_dataset(answers: Answers) -> str:
    generator = torch.Generator().manual_seed(0)
    # pixels 20..200, so that dividing by the image's max or range differs from / 255
    images = torch.randint(20, 201, (7, 5, 6), dtype=torch.uint8, generator=generator)
    labels = torch.tensor([3, 1, 4, 1, 5, 9, 2])
    dataset = answers.call("TensorImageDataset", images, labels)
    _length(dataset, "dataset", 7)
    image, label = _sample(dataset, 3, "dataset")
    if not isinstance(image, torch.Tensor):
        raise NotYet(f"The image of `dataset[3]` is {describe(image)}; want a tensor.")
    if image.dtype != torch.float32:
        raise NotYet(
            f"The image of `dataset[3]` is {image.dtype}; it should be torch.float32 "
            "(convert the uint8 pixels, then divide by 255)."
        )
    if tuple(image.shape) != (1, 5, 6):
        raise NotYet(
            f"For images of shape (7, 5, 6) the image of `dataset[3]` has shape "
            f"{tuple(image.shape)}; it should be (1, 5, 6): one channel first, then "
            "height and width (`unsqueeze(0)` adds the channel dimension)."
        )
    if not torch.allclose(image, images[3].unsqueeze(0) / 255, atol=1e-5):
        raise NotYet(_scaling_problem(image, images, 3))
    if _class_index(label, "dataset", 3) != 1:
        raise NotYet(f"`dataset[3]` has label {int(label)}; `labels[3]` is 1.")
    flipped = answers.call(
        "TensorImageDataset", images, labels, v2.RandomVerticalFlip(1)
    )
    image, _ = _sample(flipped, 6, "flipped")
    if not torch.allclose(image, images[6].flip(0).unsqueeze(0) / 255, atol=1e-5):
        raise NotYet(
            "With `transform=v2.RandomVerticalFlip(p=1)` the image of `dataset[6]` "
            "is not flipped: apply `self.transform` to the image when it is not None."
        )
    X, y = attempt(
        "next(iter(DataLoader(dataset, batch_size=4)))",
        lambda: next(iter(DataLoader(dataset, batch_size=4))),
    )
    if tuple(X.shape) != (4, 1, 5, 6) or y.dtype != torch.int64:
        raise NotYet(
            f"A DataLoader batch of 4 has X {tuple(X.shape)} and y of dtype {y.dtype}; "
            "want X (4, 1, 5, 6) and int64 labels."
        )
    return "A DataLoader batch of 4 is X (4, 1, 5, 6) float32 and y (4,) int64."


@registry.exercise("fix_dtypes")
def _fix_dtypes(answers: Answers) -> str:
    rng = np.random.default_rng(0)
    images = rng.random((4, 3, 5))  # float64, as NumPy makes them
    names = ["shirt", "bag", "shirt", "coat"]  # classes: bag, coat, shirt
    dataset = answers.call("ArrayDataset", images, names)
    _length(dataset, "dataset", 4)
    for index, target in enumerate([2, 0, 2, 1]):
        image, label = _sample(dataset, index, "dataset")
        if not isinstance(image, torch.Tensor):
            raise NotYet(f"The image of `dataset[{index}]` is {describe(image)}.")
        if image.dtype != torch.float32:
            numpy = (
                ", NumPy's default float type" if image.dtype == torch.float64 else ""
            )
            raise NotYet(
                f"The image of `dataset[{index}]` is {image.dtype}{numpy}. A model's "
                "weights are float32 and `@` does not mix dtypes: convert the image "
                "with `.float()`."
            )
        want = torch.from_numpy(images[index]).float().unsqueeze(0)
        if image.shape != want.shape or not torch.allclose(image, want, atol=1e-6):
            raise NotYet(
                f"The image of `dataset[{index}]` is {describe(image)} and should be "
                f"`images[{index}]` as float32, shape {tuple(want.shape)}, values "
                "unchanged."
            )
        found = _class_index(label, "dataset", index)
        if found != target:
            raise NotYet(
                f"The label of `dataset[{index}]` ({names[index]!r}) is {found}; with "
                f"`classes` {sorted(set(names))} it should be {target}, the position "
                "of the name in the sorted class list."
            )
    return "A batch is now float32 images and int64 class indices."


@registry.exercise("predict_batches")
def _predict_batches(answers: Answers) -> str:
    name = "predicted_num_batches"
    num_batches = whole_number(answers.get(name), name)
    if num_batches != 234:
        extra = (
            "60000 / 256 is 234.4: a 235th batch would hold the last 96 images, but "
            "`drop_last=True` drops it."
            if num_batches == 235
            else "There are 60,000 training images, 256 per batch, and "
            "`drop_last=True` drops a short last batch."
        )
        raise NotYet(f"`predicted_num_batches` is {num_batches!r}. {extra}")
    x_shape = _as_shape(answers.get("predicted_X_shape"), "predicted_X_shape")
    if x_shape != (256, 1, 28, 28):
        extra = (
            " `ToImage` gives every image a channel dimension: a gray image is "
            "(1, 28, 28)."
            if x_shape == (256, 28, 28)
            else " A batch is (batch, channels, height, width)."
        )
        raise NotYet(f"`predicted_X_shape` is {x_shape}.{extra}")
    y_shape = _as_shape(answers.get("predicted_y_shape"), "predicted_y_shape")
    if y_shape != (256, 10):
        raise NotYet(
            f"`predicted_y_shape` is {y_shape}. The `target_transform` turns each "
            "label into a one-hot vector of `num_classes` numbers; a batch stacks "
            "256 of them."
        )
    return "234 batches; X (256, 1, 28, 28) and one-hot y (256, 10)."


def _as_shape(value: Any, name: str) -> tuple[int, ...]:
    try:
        if isinstance(value, str | torch.Tensor):
            raise TypeError
        return tuple(int(size) for size in value)
    except (TypeError, ValueError):
        raise NotYet(
            f"`{name}` should be a shape such as `(64, 3, 32, 32)`, not {value!r}."
        ) from None


def _normalize_images() -> tuple[torch.Tensor, list[int], list[int]]:
    """uint8 images (12, 4, 5): dark training images, half of them darker than the
    others (so that the mean of per-image stds is far from the std of all pixels),
    and bright validation images."""
    generator = torch.Generator().manual_seed(0)
    darker = torch.randint(0, 60, (4, 4, 5), generator=generator)
    dark = torch.cat([darker, torch.randint(60, 120, (4, 4, 5), generator=generator)])
    bright = torch.randint(130, 256, (4, 4, 5), generator=generator)
    order = torch.randperm(12, generator=generator)
    images = torch.empty(12, 4, 5, dtype=torch.uint8)
    images[order[:8]] = dark.to(torch.uint8)
    images[order[8:]] = bright.to(torch.uint8)
    return images, sorted(order[:8].tolist()), sorted(order[8:].tolist())


@registry.exercise("training_normalize")
def _training_normalize(answers: Answers) -> str:
    images, train_indices, val_indices = _normalize_images()
    normalize = answers.call("training_normalize", images, list(train_indices))
    if not callable(normalize):
        raise NotYet(
            f"`training_normalize` returned {describe(normalize)}; return a "
            "transform: `v2.Normalize(mean=[...], std=[...])`."
        )
    floats = images.unsqueeze(1).float() / 255  # what ToDtype(scale=True) gives
    out = attempt("normalize(images in [0, 1])", normalize, floats.clone())
    if not isinstance(out, torch.Tensor) or out.shape != floats.shape:
        raise NotYet(
            f"Your transform turns float images of shape {tuple(floats.shape)} into "
            f"{describe(out)}; a Normalize keeps the shape."
        )
    out = out.double()
    pixels = floats.double()
    train_pixels = pixels[train_indices]

    def normalized(mean: torch.Tensor, std: torch.Tensor) -> bool:
        return torch.allclose(out, (pixels - mean) / std, rtol=0.01, atol=0.01)

    if normalized(train_pixels.mean(), train_pixels.std()):
        val = out[val_indices]
        return (
            "The check's validation images, brighter than its training images, "
            f"have mean {val.mean():+.2f} after your transform: the statistics "
            "never saw them."
        )
    if normalized(pixels.mean(), pixels.std()):
        raise NotYet(
            "Your mean and std include the validation images: compute them from "
            "`images[train_indices]` only."
        )
    if normalized(train_pixels.mean() * 255, train_pixels.std() * 255):
        raise NotYet(
            "Your mean and std are on the 0..255 scale of the uint8 pixels, but the "
            "transform gets images in [0, 1]: divide the pixels by 255 first."
        )
    per_image_std = train_pixels.flatten(1).std(dim=1).mean()
    if normalized(train_pixels.mean(), per_image_std):
        raise NotYet(
            "Your std is the mean of the training images' own stds. When images "
            "differ in brightness, the pixels spread more around the common mean "
            "than around each image's mean: take one std over all training pixels "
            "together."
        )
    train = out[train_indices]
    raise NotYet(
        f"After your transform the training images have mean {train.mean():.3f} and "
        f"std {train.std():.3f}; want mean 0 and std 1, with one mean and one std "
        "(of all training pixels, scaled to [0, 1]) for every image."
    )


def _items(part: Any, name: str) -> list[int]:
    """The samples of one part of a split of ``_Numbers``: their indices."""
    length = attempt(f"len({name})", len, part)
    return [int(attempt(f"{name}[{i}]", part.__getitem__, i)) for i in range(length)]


def _split(
    answers: Answers, seed: int, n: int = 100, val_size: int = 20
) -> tuple[list[int], list[int]]:
    shown = f"split_dataset(<{n} samples>, val_size={val_size}, seed={seed})"
    parts = answers.call_as("split_dataset", shown, _Numbers(n), val_size, seed)
    if not isinstance(parts, tuple | list) or len(parts) != 2:
        raise NotYet(
            f"`split_dataset` returned {describe(parts)}; return a pair "
            "`(train_data, val_data)`."
        )
    return _items(parts[0], "train_data"), _items(parts[1], "val_data")


def _numpy_state_equal(before: tuple, after: tuple) -> bool:
    return all(
        np.array_equal(a, b) if isinstance(a, np.ndarray) else a == b
        for a, b in zip(before, after, strict=True)
    )


@registry.exercise("clean_split")
def _clean_split(answers: Answers) -> str:
    numpy_saved, python_saved = np.random.get_state(), random.getstate()
    try:
        with torch.random.fork_rng(devices=[]):  # leave the notebook's state as is
            torch.manual_seed(123)
            np.random.seed(123)
            random.seed(123)
            torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
            python_state = random.getstate()
            train, val = _split(answers, 0)
            touched = [
                not torch.equal(torch_state, torch.get_rng_state()),
                not _numpy_state_equal(numpy_state, np.random.get_state()),
                python_state != random.getstate(),
            ]
            again = _split(answers, 0)
            torch.rand(3)  # other code draws random numbers
            later = _split(answers, 0)
            others = [_split(answers, seed)[1] for seed in range(1, 6)]
            bigger_train, bigger_val = _split(answers, 0, n=90, val_size=30)
    finally:
        np.random.set_state(numpy_saved)
        random.setstate(python_saved)
    if (len(train), len(val)) == (20, 80):
        raise NotYet(
            "The parts come in the wrong order: return `(train_data, val_data)`, "
            "the training part first."
        )
    if (len(train), len(val)) != (80, 20):
        raise NotYet(
            f"Splitting 100 samples with val_size=20 gives parts of {len(train)} and "
            f"{len(val)} samples; want 80 for training and 20 for validation."
        )
    shared = set(train) & set(val)
    if shared:
        raise NotYet(
            f"{len(shared)} of the 20 validation samples are also training samples. "
            "Two calls of `randperm` give two unrelated orders, so the first 20 of "
            "one and the last 80 of the other overlap: cut both parts from one "
            "permutation, or use `random_split`."
        )
    if sorted(train + val) != list(range(100)):
        raise NotYet("Together the two parts should hold every sample exactly once.")
    if len({b - a for a, b in zip(sorted(val), sorted(val)[1:])}) == 1:
        raise NotYet(
            f"The validation samples are evenly spaced ({sorted(val)[:3]}...), not "
            "random: shuffle the indices with a seeded generator before splitting."
        )
    if (len(bigger_train), len(bigger_val)) != (60, 30):
        raise NotYet(
            f"With 90 samples and val_size=30 the parts have {len(bigger_train)} and "
            f"{len(bigger_val)} samples; want 60 and 30: hold out `val_size` "
            "samples, whatever the length of the dataset."
        )
    if again != (train, val) and touched[0]:
        raise NotYet(
            "Two calls with the same seed give different splits: the order comes from "
            "torch's global random state, which moves on with every draw. Pass "
            "`random_split` (or `randperm`) a generator seeded with `seed`."
        )
    if again != (train, val):
        raise NotYet(
            "Two calls with the same seed, one right after the other, give different "
            "splits: a generator made once, outside `split_dataset`, draws on from "
            "call to call. Make a new generator seeded with `seed` at every call."
        )
    if later != (train, val):
        raise NotYet(
            "The same seed gives different splits when other code draws random "
            "numbers in between: draw the order from a generator seeded with `seed`."
        )
    for seed, other_val in enumerate(others, start=1):
        if set(other_val) == set(val):
            raise NotYet(
                f"Seeds 0 and {seed} give the same split: seed the generator with "
                "the `seed` argument."
            )
    if len({frozenset(part) for part in others}) < len(others):
        raise NotYet(
            "Seeds 1 to 5 do not give 5 different splits: seed the generator with "
            "the `seed` argument."
        )
    where = [
        "torch's global random state (as `torch.manual_seed` does), and with it "
        "every later random draw (initial weights, shuffling)",
        "NumPy's global random state (as `np.random.seed` does), and with it every "
        "later `np.random` draw",
        "the state of Python's `random` module (as `random.seed` does), and with it "
        "every later `random` draw",
    ]
    for changed, state in zip(touched, where, strict=True):
        if changed:
            raise NotYet(
                f"The split is right, but `split_dataset` changes {state}. Draw the "
                "order from a `torch.Generator` seeded with `seed` instead."
            )
    return "Disjoint, complete, and the same for the same seed."


def _sized_images(channels: int, dtype: torch.dtype) -> list[tuple[torch.Tensor, int]]:
    """Three images (channels, H, W) of different sizes, no pixel zero, and labels."""
    generator = torch.Generator().manual_seed(0)
    batch = []
    for (height, width), label in zip([(4, 6), (7, 3), (5, 5)], [2, 0, 1]):
        image = torch.randint(1, 250, (channels, height, width), generator=generator)
        batch.append((image.to(dtype), label))
    return batch


@registry.exercise("pad_collate")
def _pad_collate(answers: Answers) -> str:
    for channels, dtype in ((3, torch.uint8), (1, torch.float32)):
        batch = _sized_images(channels, dtype)
        shown = f"pad_collate(three {dtype} images of sizes (4, 6), (7, 3), (5, 5))"
        out = answers.call_as("pad_collate", shown, list(batch))
        if not isinstance(out, tuple | list) or len(out) != 2:
            raise NotYet(f"`pad_collate` returned {describe(out)}; return `(X, y)`.")
        X, y = out
        want_shape = (3, channels, 7, 6)
        if not isinstance(X, torch.Tensor) or tuple(X.shape) != want_shape:
            raise NotYet(
                f"`{shown}` gives X as {describe(X)}; want shape {want_shape}: "
                "(batch, channels, the largest height, the largest width)."
            )
        if X.dtype != dtype:
            raise NotYet(f"X is {X.dtype} for {dtype} images; keep the images' dtype.")
        for i, (image, _) in enumerate(batch):
            height, width = image.shape[1:]
            if not torch.equal(X[i, :, :height, :width], image):
                raise NotYet(
                    f"Image {i} is not in the top-left corner of `X[{i}]`: copy it "
                    f"into `X[{i}, :, :{height}, :{width}]` (pad at the bottom and "
                    "the right)."
                )
            if X[i].abs().sum() != image.abs().sum():
                raise NotYet(f"The padding of `X[{i}]` is not all zeros.")
        if not isinstance(y, torch.Tensor) or y.dtype != torch.int64:
            raise NotYet(
                f"y is {describe(y)}; want the labels as an int64 tensor, "
                "`torch.tensor([label for _, label in batch])`."
            )
        if y.tolist() != [2, 0, 1]:
            raise NotYet(f"y is {y.tolist()}; the labels of the batch are [2, 0, 1].")
    X, y = attempt(
        "next(iter(DataLoader(dataset, batch_size=3, collate_fn=pad_collate)))",
        lambda: next(
            iter(
                DataLoader(
                    _sized_images(3, torch.uint8),
                    batch_size=3,
                    collate_fn=answers.get("pad_collate"),
                )
            )
        ),
    )
    return f"A DataLoader with it gives X {tuple(X.shape)} and y {y.tolist()}."


class _Numbers(Dataset):
    """Samples 0..n-1, so that a split shows which samples it holds."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        if not 0 <= index < self.n:
            raise IndexError(index)
        return index
