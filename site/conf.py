"""Sphinx configuration for the torchprimer site.

`make site` (outputs as stored in notebooks/) and `make book` (freshly executed
copies) stage this folder next to the chapters in _build/src/notebooks/ and render it.
Everything the pages need is served from the build folder: no CDN, no fonts or scripts
from the network (tests/site/ checks that in a real browser).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

from tools.course import chapters

project = "torchprimer"
author = "the torchprimer authors"
copyright = "the torchprimer authors"  # no year: the build stays reproducible
html_title = "torchprimer"

extensions = [
    "myst_nb",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax
    "sphinx_copybutton",
    "sphinx_togglebutton",
]

# Pages: the landing page, the glossary and the numbered chapters; anything else that
# lands next to them (checkpoints, scratch files) is ignored, not a build error.
root_doc = "index"
include_patterns = [
    "index.md",
    "glossary.md",
    "[0-9][0-9]_*.ipynb",
    "exercises/[0-9][0-9]_*_exercises.ipynb",
]
exclude_patterns = ["_build", "**/.ipynb_checkpoints"]

# --- myst-nb: render the outputs stored in the notebooks, never run a kernel ----------
nb_execution_mode = "off"
nb_ipywidgets_js = {}  # no widget outputs are stored: no require.js from a CDN
nb_merge_streams = True  # print and stderr output interleave as in JupyterLab
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3

# --- math: MathJax 3 from _static/mathjax (sphinx-mathjax-offline) --------------------
mathjax3_config = {"options": {"menuOptions": {"settings": {"assistiveMml": False}}}}

# --- copy buttons on code cells only (not on outputs) ---------------------------------
copybutton_selector = "div.cell_input div.highlight pre"
copybutton_exclude = ".linenos, .gp"

# --- theme ----------------------------------------------------------------------------
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
# One search box: the header's search button (it stays visible on a phone); the
# theme's second one, in the left sidebar, is left out.
html_sidebars = {"**": ["navbar-logo.html", "icon-links.html", "sbt-sidebar-nav.html"]}
html_static_path = ["_static"]
html_css_files = ["torchprimer.css"]
html_js_files = ["torchprimer.js"]
html_favicon = "../images/favicon.png"  # drawn by images/draw_figures.py
# Light/dark follows the reader's system setting until they pick one in the header.
# (Left unset, the theme logs "Got invalid theme mode: ." to the console on every page.)
html_context = {"default_mode": "auto"}
html_copy_source = True  # the download button serves _sources/NN_topic.ipynb
html_show_sourcelink = False
html_last_updated_fmt = None
pygments_style = "default"
# The metrics cells carry application/json (read by tools) next to a text/plain twin.
# myst-nb warns that it has no renderer for JSON; that warning alone is silenced.
suppress_warnings: list[str] = ["mystnb.unknown_mime_type"]

# Where learners get the project; set TORCHPRIMER_REPOSITORY_URL when publishing.
REPOSITORY_URL = os.environ.get("TORCHPRIMER_REPOSITORY_URL", "")
# The chapters, their titles and run times: course.toml, through tools/course.py (the
# Makefile runs Sphinx from the repository, so its tools/ package is importable).
CHAPTERS = {chapter.name: chapter for chapter in chapters()}


def _chapter_overview() -> str:
    """Each chapter in reading order: its title, what you will be able to do after it,
    a figure that stands for it, its run time and its exercises (MyST markdown)."""
    parts = []
    for chapter in CHAPTERS.values():
        title = f"{chapter.number} · {chapter.title}"
        parts += [
            f"### [{title}]({chapter.name}.ipynb)",
            "",
            f"```{{image}} ../{chapter.figure}",
            f":alt: {chapter.figure_alt}",
            ":class: chapter-thumbnail",
            f":target: {chapter.name}.html",
            "```",
            "",
            f"You will be able to {chapter.goal}. Run time on a 2-core CPU: "
            f"{chapter.run_time()}. Then practise with "
            f"[its exercises](exercises/{chapter.name}_exercises.ipynb).",
            "",
        ]
    return "\n".join(parts)


def _chapter_toctree(srcdir: Path) -> str:
    """Each chapter, followed by its exercises where they exist."""
    entries = []
    for name in CHAPTERS:
        entries.append(name)
        if (srcdir / "exercises" / f"{name}_exercises.ipynb").is_file():
            entries.append(f"exercises/{name}_exercises")
    return "\n".join(entries)


def _insert_chapters(app, docname: str, source: list[str]) -> None:
    if docname == "index":
        srcdir = Path(app.srcdir)
        source[0] = (
            source[0]
            .replace("<!-- chapter-overview -->", _chapter_overview())
            .replace("<!-- chapter-toctree -->", _chapter_toctree(srcdir))
        )


def _paragraph(*parts: str | nodes.Node) -> nodes.paragraph:
    para = nodes.paragraph()
    for part in parts:
        para += nodes.Text(part) if isinstance(part, str) else part
    return para


def provenance(record: dict) -> str:
    """The line that says where and when a page's outputs were made, from the
    metadata that `make execute` and `make book` write into the notebook."""
    device = "CPU" if record["device"] == "cpu" else record["device"].upper()
    return (
        f"The outputs on this page: executed on {record['executed']} with torch "
        f"{record['torch']} on {device} (capability {record['cpu_capability']}, "
        f"{record['threads']} threads) in {record['seconds']} s."
    )


def _run_box(docname: str, srcdir: Path) -> nodes.admonition:
    """'Run this chapter': how to run it, how long it takes to run (not to read), and
    where its outputs come from."""
    chapter = CHAPTERS[docname]
    number = chapter.number
    clone = (
        _paragraph(
            "Get the project: ", nodes.literal(text=f"git clone {REPOSITORY_URL}")
        )
        if REPOSITORY_URL
        else _paragraph("Get the project: a copy of the torchprimer repository.")
    )
    box = nodes.admonition(classes=["tip", "run-this-chapter"])
    box += nodes.title(text="Run this chapter")
    box += clone
    items = nodes.bullet_list()
    for parts in (
        (
            "In JupyterLab: ",
            nodes.literal(text="make lab"),
            f", then open {docname}.ipynb.",
        ),
        (
            "From the command line: ",
            nodes.literal(text=f"make book NB={number} DEVICE=cpu"),
            " (or cuda, mps, auto).",
        ),
        (f"Run time on a 2-core laptop CPU: {chapter.run_time()}.",),
        (
            "The download button (top right) gives the .ipynb; it runs inside the "
            "repository after ",
            nodes.literal(text="make setup"),
            ", because it imports the torchprimer package and reads the repository's "
            "data/.",
        ),
    ):
        items += nodes.list_item("", _paragraph(*parts))
    box += items
    notebook = json.loads((srcdir / f"{docname}.ipynb").read_text(encoding="utf-8"))
    record = notebook["metadata"].get("torchprimer")
    if record:
        box += _paragraph(provenance(record))
        box[-1]["classes"].append("provenance")
    return box


def _add_run_box(app, doctree: nodes.document) -> None:
    """Put the box after the chapter's opening (title, intro, goals): before its first
    code cell or sub-section."""
    docname = app.env.docname
    section = next(iter(doctree.findall(nodes.section)), None)
    if docname not in CHAPTERS or section is None:
        return
    position = next(
        (
            i
            for i, child in enumerate(section.children)
            if isinstance(child, nodes.section)
            or (isinstance(child, nodes.container) and "cell" in child["classes"])
        ),
        len(section.children),
    )
    section.insert(position, _run_box(docname, Path(app.srcdir)))
    _index_section_titles(doctree)


def _index_section_titles(doctree: nodes.document) -> None:
    """An index entry for every piece of code in a section title (`set_epoch`,
    `channels_last`, `weights_only=True`), pointing at that section: the site's search
    then lists the section itself, not only the page."""
    for section in doctree.findall(nodes.section):
        if not section["ids"] or not isinstance(section[0], nodes.title):
            continue
        for literal in section[0].findall(nodes.literal):
            term = re.match(r"[\w.]+", literal.astext())
            if term:
                entry = ("single", term.group(), section["ids"][0], "", None)
                section.insert(1, addnodes.index(entries=[entry]))


def setup(app):
    app.connect("source-read", _insert_chapters)
    app.connect("doctree-read", _add_run_box)
    return {"parallel_read_safe": True}
