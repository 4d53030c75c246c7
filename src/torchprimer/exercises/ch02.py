"""Checks for the exercises of chapter 02
(notebooks/exercises/02_datasets_and_transforms_*.ipynb)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from torchprimer.exercises import Answers, NotYet, Registry, attempt, describe

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


@registry.exercise("tensor_dataset")
def _tensor_dataset(answers: Answers) -> str:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (7, 5, 6), dtype=torch.uint8, generator=generator)
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
    want = images[3].unsqueeze(0) / 255
    if torch.allclose(image, want * 255, atol=1e-4):
        raise NotYet("The pixels are still 0..255; scale them to 0..1 (divide by 255).")
    if not torch.allclose(image, want, atol=1e-5):
        raise NotYet(
            "The image of `dataset[3]` is not `images[3]` scaled to 0..1: does "
            "`__getitem__` use its `index`?"
        )
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
    num_batches = answers.get("predicted_num_batches")
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


def _test_photo(width: int, height: int) -> Image.Image:
    """A smooth RGB picture whose left and right halves differ."""
    x = np.linspace(0, 1, width)[None, :].repeat(height, 0)
    y = np.linspace(0, 1, height)[:, None].repeat(width, 1)
    rgb = np.stack([x, y, x * y], axis=-1)
    return Image.fromarray((rgb * 255).round().astype(np.uint8))


@registry.exercise("transform_pipeline")
def _transform_pipeline(answers: Answers) -> str:
    wide = _test_photo(60, 40)
    tall = v2.functional.pil_to_tensor(_test_photo(30, 50))  # uint8 (3, 50, 30)
    for photo, size in ((wide, 32), (tall, 24)):
        transform = answers.call("make_transform", size)
        if not callable(transform):
            raise NotYet(
                f"`make_transform({size})` returned {describe(transform)}; return "
                "a transform, e.g. `v2.Compose([...])`."
            )
        kind = "PIL image" if isinstance(photo, Image.Image) else "uint8 tensor"
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            outputs = [
                attempt(f"make_transform({size})(a {kind})", transform, photo)
                for _ in range(40)
            ]
        out = outputs[0]
        if not isinstance(out, torch.Tensor):
            raise NotYet(
                f"For a {kind} the transform returns {describe(out)}; it should "
                "return a tensor: begin with `v2.ToImage()`."
            )
        if tuple(out.shape) != (3, size, size):
            raise NotYet(
                f"`make_transform({size})` turns a {kind} of {_size(photo)} into "
                f"shape {tuple(out.shape)}; want (3, {size}, {size}). `Resize(size)` "
                "scales the shorter side, `CenterCrop(size)` then cuts the square."
            )
        if out.dtype != torch.float32:
            raise NotYet(
                f"The transform returns {out.dtype}; want torch.float32 "
                "(`v2.ToDtype(torch.float32, scale=True)`)."
            )
        if out.max() > 1.5:
            raise NotYet(
                "The values go up to 255: pass `scale=True` to `ToDtype` to map "
                "0..255 to 0..1."
            )
        ref = v2.Compose(
            [
                v2.ToImage(),
                v2.Resize(size),
                v2.CenterCrop(size),
                v2.ToDtype(torch.float32, scale=True),
            ]
        )(photo)
        flips = []
        for result in outputs:
            plain = (result - ref).abs().mean().item()
            mirrored = (result - ref.flip(-1)).abs().mean().item()
            if min(plain, mirrored) > 0.01:
                raise NotYet(
                    f"For a {kind} of {_size(photo)} the result is neither the centre "
                    "square of the resized photo nor that square mirrored left to "
                    "right. Keep the aspect ratio (`Resize(size)` scales the shorter "
                    "side, `Resize((size, size))` would squash), cut the square with "
                    "`CenterCrop(size)`, and flip with `RandomHorizontalFlip`."
                )
            flips.append(mirrored < plain)
        if not 5 <= sum(flips) <= 35:
            how = "every time" if all(flips) else "never"
            raise NotYet(
                f"Out of 40 reads the image was flipped {sum(flips)} times ({how}); "
                "a random horizontal flip should mirror it about half of the time: "
                "`v2.RandomHorizontalFlip(p=0.5)`."
            )
    return "Any photo becomes a float32 (3, size, size) square, flipped half the time."


def _size(photo: Image.Image | torch.Tensor) -> str:
    if isinstance(photo, Image.Image):
        return f"width {photo.width} and height {photo.height}"
    return f"shape {tuple(photo.shape)}"


class _Numbers(Dataset):
    """Samples 0..n-1, so that a batch shows the order."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index


def _epoch(loader: Any, what: str) -> list[int]:
    batches = attempt(f"iterating over {what}", list, loader)
    return [int(i) for batch in batches for i in batch]


@registry.exercise("reproducible_loader")
def _reproducible_loader(answers: Answers) -> str:
    numbers = _Numbers(40)
    with torch.random.fork_rng(devices=[]):  # leave the notebook's random state as is
        first = answers.call("make_loader", numbers, 0)
        second = answers.call("make_loader", numbers, 0)
        other = answers.call("make_loader", numbers, 1)
        if not isinstance(first, DataLoader):
            raise NotYet(
                f"`make_loader` returned {describe(first)}; return a DataLoader."
            )
        torch.rand(3)  # other code draws random numbers
        order = _epoch(first, "make_loader(dataset, 0)")
        torch.rand(3)
        again = _epoch(second, "make_loader(dataset, 0)")
        next_epoch = _epoch(first, "make_loader(dataset, 0) a second time")
        other_order = _epoch(other, "make_loader(dataset, 1)")
    batch_size = first.batch_size
    if batch_size != 8:
        raise NotYet(f"The loader has batch_size={batch_size}; keep batch_size=8.")
    if sorted(order) != list(range(40)):
        raise NotYet("One epoch should read every sample exactly once.")
    if order == list(range(40)):
        raise NotYet("The samples come in order 0, 1, 2, ...: keep `shuffle=True`.")
    if order != again:
        raise NotYet(
            "Two loaders made with the same seed give different orders: the order "
            "depends on the global random state when you iterate. Pass a seeded "
            "generator, `generator=make_generator(seed)`."
        )
    if order == other_order:
        raise NotYet("Seeds 0 and 1 give the same order: use the `seed` argument.")
    if order == next_epoch:
        raise NotYet(
            "The second epoch repeats the first epoch's order; every epoch should "
            "draw a new order from the generator."
        )
    return "Same seed, same order, whatever other code draws in between."
