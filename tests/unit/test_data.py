"""torchprimer.data, each branch, on small fabricated files (not the real 30 MB)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from tools import fetch_data
from torchprimer import data as tpdata
from torchprimer.data import (
    DataUnavailableError,
    IdxFile,
    ensure_fashion_mnist,
    raw_dir,
)

CONTENT = {
    "a-images": b"\x00\x00\x08\x03" + bytes(range(256)) * 4,
    "a-labels": b"\x00\x00\x08\x01" + bytes(10),
}
FILES = tuple(
    IdxFile(n, len(c), hashlib.sha256(c).hexdigest()) for n, c in CONTENT.items()
)


class NetworkSpy:
    """Stands in for torchvision's download; records every call so tests can assert
    there was none."""

    def __init__(self) -> None:
        self.calls: list[Path] = []

    def __call__(self, root: Path) -> None:
        self.calls.append(root)
        raise OSError("offline (test)")


def make_source(folder: Path, content: dict[str, bytes] = CONTENT) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, blob in content.items():
        with gzip.open(folder / f"{name}.gz", "wb") as fh:
            fh.write(blob)
    return folder


def fetch(root: Path, sources, **kw) -> Path:
    spy = kw.setdefault("downloader", NetworkSpy())
    out = ensure_fashion_mnist(root, source_dirs=sources, files=FILES, **kw)
    if isinstance(spy, NetworkSpy):
        assert spy.calls == [], (
            "a verified or locally available copy must not touch the network"
        )
    return out


def test_copies_from_local_source_and_verifies(tmp_path):
    src = make_source(tmp_path / "src")
    out = fetch(tmp_path / "data", [src])
    assert out == raw_dir(tmp_path / "data")
    for name, blob in CONTENT.items():
        assert (out / name).read_bytes() == blob
    assert not list(out.glob("*.tmp")), "temporary files must not be left behind"


def test_verified_copy_touches_nothing(tmp_path):
    src = make_source(tmp_path / "src")
    out = fetch(tmp_path / "data", [src])
    mtimes = {p: p.stat().st_mtime_ns for p in out.iterdir()}
    # no sources and a downloader that fails: verified files must be enough
    fetch(tmp_path / "data", [])
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes


def test_truncated_file_is_detected_and_replaced(tmp_path):
    src = make_source(tmp_path / "src")
    out = fetch(tmp_path / "data", [src])
    (out / "a-images").write_bytes(CONTENT["a-images"][:100])
    logs = []
    fetch(tmp_path / "data", [src], log=logs.append)
    assert (out / "a-images").read_bytes() == CONTENT["a-images"]
    assert any("a-images" in m and "truncated" in m for m in logs), logs


def test_corrupted_file_same_size_is_detected_by_digest(tmp_path):
    src = make_source(tmp_path / "src")
    out = fetch(tmp_path / "data", [src])
    bad = bytearray(CONTENT["a-labels"])
    bad[-1] ^= 0xFF
    (out / "a-labels").write_bytes(bytes(bad))
    assert "SHA-256" in tpdata.verify_file(out / "a-labels", FILES[1])
    fetch(tmp_path / "data", [src])
    assert (out / "a-labels").read_bytes() == CONTENT["a-labels"]


def test_wrong_digest_source_is_skipped_for_the_next_good_one(tmp_path):
    bad_src = make_source(
        tmp_path / "bad", {k: v[:-1] + b"X" for k, v in CONTENT.items()}
    )
    good_src = make_source(tmp_path / "good")
    out = fetch(tmp_path / "data", [bad_src, good_src])
    assert (out / "a-images").read_bytes() == CONTENT["a-images"]


def test_gzip_damaged_in_the_middle_falls_through_to_the_next_source(tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    text = " ".join(
        str(i * i) for i in range(3000)
    ).encode()  # compresses into Huffman-coded blocks
    for name in CONTENT:
        packed = bytearray(
            gzip.compress(text)
        )  # flipping header bytes of the deflate stream -> zlib.error
        for i in range(20, 60):
            packed[i] ^= 0xFF
        (bad / f"{name}.gz").write_bytes(bytes(packed))
    good = make_source(tmp_path / "good")
    out = fetch(tmp_path / "data", [bad, good])
    assert (out / "a-images").read_bytes() == CONTENT["a-images"]


def test_corrupted_file_without_local_source_is_removed_so_the_download_replaces_it(
    tmp_path,
):
    src = make_source(tmp_path / "src")
    out = fetch(tmp_path / "data", [src])
    (out / "a-labels").write_bytes(b"junk")

    def torchvision_like(root: Path) -> None:
        # like torchvision: skip the download when the decompressed files exist
        if all((raw_dir(root) / f.name).exists() for f in FILES):
            return
        for name, blob in CONTENT.items():
            (raw_dir(root) / name).write_bytes(blob)

    fetch(tmp_path / "data", [tmp_path / "none"], downloader=torchvision_like)
    assert (out / "a-labels").read_bytes() == CONTENT["a-labels"]


def test_corrupt_gzip_is_reported_with_its_name(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for f in FILES:
        (src / f.gz_name).write_bytes(b"this is not gzip")
    with pytest.raises(DataUnavailableError) as err:
        fetch(tmp_path / "data", [src], download=False)
    msg = str(err.value)
    assert str(src / "a-images.gz") in msg and "could not be decompressed" in msg
    assert not raw_dir(tmp_path / "data").exists() or not any(
        raw_dir(tmp_path / "data").iterdir()
    )


def test_falls_back_to_download(tmp_path):
    calls = []

    def fake_download(root: Path) -> None:
        calls.append(root)
        for name, blob in CONTENT.items():
            (raw_dir(root)).mkdir(parents=True, exist_ok=True)
            (raw_dir(root) / name).write_bytes(blob)

    out = fetch(tmp_path / "data", [tmp_path / "empty"], downloader=fake_download)
    assert calls == [tmp_path / "data"]
    assert (out / "a-labels").read_bytes() == CONTENT["a-labels"]


def test_download_that_yields_bad_data_is_reported(tmp_path):
    def bad_download(root: Path) -> None:
        raw_dir(root).mkdir(parents=True, exist_ok=True)
        for name in CONTENT:
            (raw_dir(root) / name).write_bytes(b"junk")

    with pytest.raises(DataUnavailableError, match="after download"):
        fetch(tmp_path / "data", [], downloader=bad_download)


def test_no_source_lists_the_three_ways(tmp_path):
    def offline(root: Path) -> None:
        raise OSError("Name or service not known")

    with pytest.raises(DataUnavailableError) as err:
        fetch(tmp_path / "data", [tmp_path / "nowhere"], downloader=offline)
    assert "Name or service not known" in str(err.value)
    msg = str(err.value)
    assert "apt-get install dataset-fashion-mnist" in msg
    assert "FASHION_MNIST_DIR" in msg
    assert "internet" in msg
    assert "Name or service not known" in msg
    assert str(tmp_path / "nowhere" / "a-images.gz") in msg


def test_env_var_source_comes_before_debian(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "mine"))
    dirs = tpdata._local_source_dirs()
    assert dirs == [tmp_path / "mine", tpdata.DEBIAN_DIR]


def test_interrupted_write_leaves_no_partial_file(tmp_path, monkeypatch):
    src = make_source(tmp_path / "src")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(tpdata.os, "replace", boom)
    with pytest.raises(DataUnavailableError, match="disk full"):
        fetch(tmp_path / "data", [src], download=False)
    leftovers = list(raw_dir(tmp_path / "data").iterdir())
    assert leftovers == [], leftovers


def test_cli_reports_failure(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tpdata, "_local_source_dirs", lambda: [tmp_path / "nowhere"])
    rc = fetch_data.main(["--root", str(tmp_path / "data"), "--no-download"])
    assert rc == 1
    assert "Get it in one of three ways" in capsys.readouterr().err


# --- defects found by bad-input testing -------------------------------------------


def test_fetched_files_respect_the_umask(tmp_path):
    """mkstemp made every fetched file 0600: unreadable for others sharing data/."""
    import os

    old = os.umask(0o022)
    try:
        out = fetch(tmp_path / "data", [make_source(tmp_path / "src")])
    finally:
        os.umask(old)
    for name in CONTENT:
        assert (out / name).stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("kind", ["file", "read-only"])
def test_a_root_that_cannot_hold_files_is_a_clear_error(tmp_path, monkeypatch, kind):
    """Was a raw NotADirectoryError / PermissionError traceback."""
    root = tmp_path / "data"
    if kind == "file":
        root.write_text("not a folder")
    else:  # chmod cannot stop root (CI), so the file system's refusal is simulated

        def refuse(self, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "touch", refuse)
    with pytest.raises(DataUnavailableError, match="cannot be stored in .*--root"):
        fetch(root, [make_source(tmp_path / "src")])


def test_temporaries_of_a_killed_fetch_are_removed_on_the_next_run(tmp_path):
    """kill -9 during a fetch left hidden .*.tmp files forever (113 MB after 3)."""
    import subprocess

    out = raw_dir(tmp_path / "data")
    out.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()  # a process id that no longer runs
    leftovers = [
        out / f".a-images.{dead.pid}.0badc0de.tmp",  # written by the killed process
        out / ".a-labels.k3j4h5x9.tmp",  # the old mkstemp naming
    ]
    for path in leftovers:
        path.write_bytes(b"partial")
    fetch(tmp_path / "data", [make_source(tmp_path / "src")])
    assert not [p for p in leftovers if p.exists()]
    assert sorted(p.name for p in out.iterdir()) == sorted(CONTENT)


def test_a_temporary_of_a_running_writer_is_kept(tmp_path):
    from torchprimer.files import remove_stale_temporaries, temporary_path

    mine = temporary_path(tmp_path / "x.pt")
    mine.write_bytes(b"in progress")
    assert remove_stale_temporaries(tmp_path, "x.pt") == []
    assert mine.exists()


def test_stale_cleanup_leaves_other_files_with_a_longer_name_alone(tmp_path):
    """Cleaning up after model.pt must not delete a save of model.pt.bak in progress,
    nor anything that is not a temporary."""
    from torchprimer.files import remove_stale_temporaries

    other = tmp_path / ".model.pt.bak.1.0badc0de.tmp"  # pid 1 runs: but a name apart
    unrelated = tmp_path / ".model.pt.notes.tmp"
    stale = tmp_path / ".model.pt.999999999.0badc0de.tmp"  # no such process
    for path in (other, unrelated, stale):
        path.write_bytes(b"x")
    assert remove_stale_temporaries(tmp_path, "model.pt") == [stale]
    assert other.exists() and unrelated.exists()
