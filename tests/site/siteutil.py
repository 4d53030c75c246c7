"""Paths and helpers shared by the site tests (imported by conftest.py and the test
modules)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tools.course import chapters

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SCREENSHOTS = ROOT / "_build" / "screenshots"
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = os.environ.get("TORCHPRIMER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chapter_names() -> list[str]:
    """The chapters, in course order: 'NN_topic'."""
    return [chapter.name for chapter in chapters()]


def exercise_pages() -> list[str]:
    """Each chapter's exercise page: 'exercises/NN_topic_exercises'."""
    return [f"exercises/{chapter.name}_exercises" for chapter in chapters()]


def build_site() -> None:
    """Build the site with `make site`, so the flags live in one place (the
    Makefile)."""
    done = subprocess.run(["make", "site"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, (
        f"the site does not build:\n{done.stdout[-2000:]}{done.stderr[-4000:]}"
    )
