"""A chapter runs the same from any working directory, and writes nothing outside the
repository: papermill starts the kernel in the caller's directory, not the notebook's.

Chapter 02 reads FashionMNIST (DATA_ROOT) and the custom photos (LABELS_FILE), the
paths that went wrong before they were taken relative to the repository.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.book import execute
from tools.course import ROOT, chapter

CHAPTER = chapter("02")


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


@pytest.mark.parametrize("where", ["repository", "notebooks", "outside"])
def test_a_chapter_runs_from_any_working_directory(where, tmp_path):
    outside = tmp_path / "elsewhere" / "work"
    outside.mkdir(parents=True)
    cwd = {"repository": ROOT, "notebooks": ROOT / "notebooks", "outside": outside}
    before = listing(tmp_path)
    # where a path relative to the working directory would have landed
    near = {folder: names(folder) for folder in (ROOT.parent, ROOT / "notebooks")}
    execute(CHAPTER.path.resolve(), tmp_path / "out", CHAPTER.smoke, cwd=cwd[where])
    assert listing(tmp_path) == sorted([*before, "out", f"out/{CHAPTER.path.name}"])
    for folder, found in near.items():
        new = names(folder) - found
        if folder == ROOT.parent:  # shared with other programs (it may be /tmp): only
            new &= {"data", "custom_dataset", "models"}  # what ../data etc. would make
        assert not new, f"the run wrote {sorted(new)} into {folder}"
