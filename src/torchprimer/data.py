"""Fetch and verify FashionMNIST so that torchvision never needs the network.

Hand-written, not taught: chapters 02 and 05 call :func:`ensure_fashion_mnist` before
they load FashionMNIST, and ``make data`` runs it (``python -m tools.fetch_data``).

``data/FashionMNIST/raw/`` must hold the four decompressed IDX files. They are
found, in this order:

1. already there, with the right size and SHA-256 (nothing else happens);
2. gzip copies in ``$FASHION_MNIST_DIR`` or ``/usr/share/datasets/fashion-mnist/``
   (Debian package ``dataset-fashion-mnist``);
3. torchvision's own download (networked machines only).

Every write goes to a temporary file that is renamed into place only after its
content has been verified, so an interrupted fetch never leaves a broken file.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from torchvision import datasets

from torchprimer.files import remove_stale_temporaries, temporary_path

__all__ = [
    "FASHION_MNIST_FILES",
    "DEBIAN_DIR",
    "DataUnavailableError",
    "IdxFile",
    "ensure_fashion_mnist",
    "raw_dir",
    "verify_file",
]

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
ENV_VAR = "FASHION_MNIST_DIR"


@dataclass(frozen=True)
class IdxFile:
    """One decompressed IDX file: its name, size in bytes and SHA-256."""

    name: str
    size: int
    sha256: str

    @property
    def gz_name(self) -> str:
        return self.name + ".gz"


# Digests of the *decompressed* files (the gzip wrappers differ between mirrors).
FASHION_MNIST_FILES: tuple[IdxFile, ...] = (
    IdxFile(
        "train-images-idx3-ubyte",
        47_040_016,
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    IdxFile(
        "train-labels-idx1-ubyte",
        60_008,
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    IdxFile(
        "t10k-images-idx3-ubyte",
        7_840_016,
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    IdxFile(
        "t10k-labels-idx1-ubyte",
        10_008,
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
)

HOW_TO_GET_DATA = """\
FashionMNIST is not available. Get it in one of three ways:
  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist
     (installs /usr/share/datasets/fashion-mnist/*.gz), then run `make data`.
  2. Put the four *.gz files in a folder and point to it:
     FASHION_MNIST_DIR=/path/to/folder make data
  3. On a machine with internet access, `make data` downloads them with torchvision."""


class DataUnavailableError(RuntimeError):
    """No source could provide a verified copy of FashionMNIST."""


def raw_dir(root: str | os.PathLike[str]) -> Path:
    """The folder torchvision reads: ``<root>/FashionMNIST/raw``."""
    return Path(root) / "FashionMNIST" / "raw"


def _sha256_stream(chunks: Iterable[bytes]) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _read_chunks(fh, chunk_size: int = 1 << 20) -> Iterable[bytes]:
    while chunk := fh.read(chunk_size):
        yield chunk


def _written(chunks: Iterable[bytes], out) -> Iterable[bytes]:
    """Pass ``chunks`` through, writing each one to ``out`` on the way."""
    for chunk in chunks:
        out.write(chunk)
        yield chunk


def verify_file(path: Path, expected: IdxFile) -> str | None:
    """Return None if ``path`` holds exactly ``expected``, else a reason why not."""
    if not path.is_file():
        return f"{path} is missing"
    actual_size = path.stat().st_size
    if actual_size != expected.size:
        return (
            f"{path} has {actual_size} bytes, expected {expected.size} "
            "(truncated or corrupted)"
        )
    with path.open("rb") as fh:
        _, digest = _sha256_stream(_read_chunks(fh))
    if digest != expected.sha256:
        return f"{path} has SHA-256 {digest}, expected {expected.sha256} (corrupted)"
    return None


def _install_from_gz(gz_path: Path, target: Path, expected: IdxFile) -> str | None:
    """Decompress ``gz_path`` into ``target`` atomically. Return a reason on failure."""
    tmp = temporary_path(target)
    try:
        with open(tmp, "xb") as out, gzip.open(gz_path, "rb") as src:
            size, digest = _sha256_stream(_written(_read_chunks(src), out))
            out.flush()
            os.fsync(out.fileno())
        if size != expected.size or digest != expected.sha256:
            return (
                f"{gz_path} decompresses to {size} bytes with SHA-256 {digest}, "
                f"expected {expected.size} bytes with SHA-256 {expected.sha256}"
            )
        os.replace(tmp, target)
        return None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        return f"{gz_path} could not be decompressed into {target}: {exc}"
    finally:
        tmp.unlink(missing_ok=True)


def _writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed; raise DataUnavailableError if files can't go in."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = temporary_path(folder / "write-test")
        probe.touch(exist_ok=False)
        probe.unlink()
    except OSError as exc:
        raise DataUnavailableError(
            f"FashionMNIST cannot be stored in {folder}: {exc.strerror or exc}. "
            "Choose a data root you can write to (make data: --root PATH; "
            "notebooks: the DATA_ROOT parameter) or fix its permissions."
        ) from None


def _local_source_dirs() -> list[Path]:
    dirs = []
    if os.environ.get(ENV_VAR):
        dirs.append(Path(os.environ[ENV_VAR]))
    dirs.append(DEBIAN_DIR)
    return dirs


def _torchvision_download(root: Path) -> None:
    """Let torchvision download into ``root`` (networked machines)."""
    datasets.FashionMNIST(root=str(root), train=True, download=True)
    datasets.FashionMNIST(root=str(root), train=False, download=True)


def ensure_fashion_mnist(
    root: str | os.PathLike[str] = "data",
    source_dirs: Sequence[str | os.PathLike[str]] | None = None,
    download: bool = True,
    files: Sequence[IdxFile] = FASHION_MNIST_FILES,
    downloader: Callable[[Path], None] = _torchvision_download,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Make sure ``<root>/FashionMNIST/raw`` holds the four verified IDX files.

    Args:
        root: the dataset root you pass to ``torchvision.datasets.FashionMNIST``.
        source_dirs: folders holding ``*.gz`` copies; default ``$FASHION_MNIST_DIR``
            then ``/usr/share/datasets/fashion-mnist``.
        download: allow torchvision's download as the last resort.
        files: the expected files (tests pass small fabricated ones).
        downloader: the network fallback (tests pass a fake one).
        log: where progress messages go (default: nowhere).

    Returns:
        The raw folder.

    Raises:
        DataUnavailableError: naming every file that could not be provided and why,
            with the three ways to get the data.
    """
    say = log or (lambda message: None)
    root = Path(root)
    target_dir = raw_dir(root)
    dirs = (
        [Path(d) for d in source_dirs]
        if source_dirs is not None
        else _local_source_dirs()
    )

    problems: dict[str, list[str]] = {}
    missing: list[IdxFile] = []
    for idx in files:
        target = target_dir / idx.name
        reason = verify_file(target, idx)
        if reason is None:
            say(f"ok        {target}")
            continue
        if target.exists():
            say(f"bad       {reason}; replacing it")
        _writable_folder(target_dir)
        remove_stale_temporaries(target_dir, idx.name)  # left by a killed fetch
        reasons = problems.setdefault(idx.name, [reason])
        for folder in dirs:
            gz = folder / idx.gz_name
            if not gz.is_file():
                reasons.append(f"{gz} does not exist")
                continue
            failure = _install_from_gz(gz, target, idx)
            if failure is None:
                say(f"copied    {gz} -> {target}")
                break
            reasons.append(failure)
        else:
            missing.append(idx)

    if missing and download:
        # torchvision skips its download when the decompressed files merely exist, so a
        # corrupted file (and any stale .gz beside it) must go first.
        for idx in missing:
            (target_dir / idx.name).unlink(missing_ok=True)
            (target_dir / idx.gz_name).unlink(missing_ok=True)
        say("downloading with torchvision ...")
        try:
            downloader(root)
        except Exception as exc:  # network errors come in many types
            for idx in missing:
                problems[idx.name].append(f"torchvision download failed: {exc}")
        still_missing = []
        for idx in missing:
            reason = verify_file(target_dir / idx.name, idx)
            if reason is None:
                say(f"downloaded {target_dir / idx.name}")
            else:
                problems[idx.name].append(f"after download: {reason}")
                still_missing.append(idx)
        missing = still_missing
    elif missing:
        for idx in missing:
            problems[idx.name].append("download disabled (--no-download)")

    if missing:
        detail = "\n".join(
            f"  {idx.name}:\n" + "\n".join(f"    - {r}" for r in problems[idx.name])
            for idx in missing
        )
        raise DataUnavailableError(f"{HOW_TO_GET_DATA}\nWhat was tried:\n{detail}")
    return target_dir
