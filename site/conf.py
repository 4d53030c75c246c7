"""Sphinx configuration for the torchprimer site.

`make site` renders notebooks/ as stored (outputs included, nothing executed);
`make book` renders the freshly executed copies in _build/book/notebooks/ with this same file.
Everything the pages need is served from the build folder: no CDN, no fonts or scripts from the
network (tests/site/ checks that in a real browser).
"""

from __future__ import annotations

import json
from pathlib import Path

project = "torchprimer"
author = "the torchprimer authors"
copyright = "the torchprimer authors"  # no year: the build stays reproducible
html_title = "torchprimer: an executable PyTorch primer"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # copies MathJax 3 into _static/mathjax and points mathjax_path at it
]

# Only the landing page and the numbered chapters are pages; anything else that lands in
# notebooks/ (checkpoints, scratch files, a README) is ignored instead of breaking the build.
root_doc = "index"
include_patterns = ["index.md", "[0-9][0-9]_*.ipynb"]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# --- myst-nb: render the outputs stored in the notebooks, never run a kernel -----------------
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # the notebooks use no widgets: do not load require.js/embed-amd from a CDN
nb_merge_streams = (
    True  # tqdm and print output interleave into one block, as in JupyterLab
)
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- math: MathJax 3 from _static/mathjax (sphinx-mathjax-offline) ---------------------------
mathjax3_config = {"options": {"menuOptions": {"settings": {"assistiveMml": False}}}}

# --- theme -----------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_theme_options = {
    "use_download_button": True,  # .ipynb (and print-to-PDF) on every chapter
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "show_prev_next": True,
}
# Light/dark follows the reader's system setting until they pick one with the switch in the header.
# (Left unset, the theme logs "Got invalid theme mode: ." to the console on every page.)
html_context = {"default_mode": "auto"}
html_copy_source = True  # the download button serves _sources/NN_topic.ipynb
html_show_sourcelink = False
html_last_updated_fmt = None
pygments_style = "default"
# The metrics cells of notebook 05 carry application/json (read by the tests) next to a
# text/plain twin that the page shows. myst-nb renders every mime type of an output before it
# picks one, and warns that it has no renderer for JSON; that warning alone is silenced.
suppress_warnings: list[str] = ["mystnb.unknown_mime_type"]

# Time per chapter: wall-clock seconds of a papermill run (kernel start included) on the 2-core
# reference CPU. Update an entry when its chapter changes a lot; a chapter missing here shows
# "not measured" on the landing page.
CPU_TIME_S = {
    "01": 10,
    "02": 16,
    "03": 9,
    "04": 9,
    "05": 48,
}


def _title(notebook: Path) -> str:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"]) if cells else ""
    line = first.strip().splitlines()[0] if first.strip() else notebook.stem
    return line.lstrip("#").strip()


def _chapter_table(srcdir: Path) -> str:
    """A markdown table of the chapters found in srcdir, in file-name order."""
    rows = ["| # | chapter | time on CPU |", "|---|---|---|"]
    for nb in sorted(srcdir.glob("[0-9][0-9]_*.ipynb")):
        number = nb.name[:2]
        seconds = CPU_TIME_S.get(number)
        time = (
            f"about {max(1, round(seconds / 60))} min"
            if seconds and seconds >= 90
            else (f"about {seconds} s" if seconds else "not measured")
        )
        rows.append(f"| {number} | [{_title(nb)}]({nb.name}) | {time} |")
    return "\n".join(rows)


def _insert_chapters(app, docname: str, source: list[str]) -> None:
    if docname == "index":
        source[0] = source[0].replace(
            "<!-- chapter-table -->", _chapter_table(Path(app.srcdir))
        )


def setup(app):
    app.connect("source-read", _insert_chapters)
    return {"parallel_read_safe": True}
