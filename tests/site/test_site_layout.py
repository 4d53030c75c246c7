"""What a reader sees on every page, measured in Chromium: nothing runs off the column
1280 px, no page is wider than a 390 px phone, progress bars are one line, harness
cells are hidden, code cells have copy buttons, the favicon loads, figures are shown at
a size where their text stays readable, and plots have real alt text.

Screenshots of every page at 390 px and in dark mode go to _build/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from siteutil import NOTEBOOKS, chapter_names, exercise_pages
from test_site_pages import open_page

CHAPTERS = chapter_names()
PAGES = ["index", "glossary", *CHAPTERS, *exercise_pages(), "search", "genindex"]
# images/draw_figures.py draws no text smaller than this (checked there), in pixels of
# the PNG; shown at a smaller scale, text must stay at least MIN_TEXT_CSS_PX tall.
FIGURE_MIN_TEXT_PX = 11 * 100 / 72  # 11 pt at 100 dpi
MIN_TEXT_CSS_PX = 10
TQDM_LINE = re.compile(r"\d+%\|")

OVERFLOW_JS = """
() => Array.from(document.querySelectorAll(
        "article.bd-article pre, article.bd-article div.cell_output, "
        + "article.bd-article table"))
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => `${el.tagName.toLowerCase()}.${el.className} `
             + `(${el.scrollWidth} > ${el.clientWidth} px): `
             + el.textContent.trim().slice(0, 70))
"""

FIGURES_JS = """
() => Array.from(document.querySelectorAll("article.bd-article img"))
  .filter(img => !img.classList.contains("chapter-thumbnail"))  // a link to its chapter
  .map(img => ({src: img.getAttribute("src"), alt: img.getAttribute("alt") || "",
               natural: img.naturalWidth, shown: img.getBoundingClientRect().width,
               output: !!img.closest("div.cell_output")}))
"""


def _visit(browser, url: str, **kw):
    context, page, visit = open_page(browser, url, **kw)
    return context, page, visit


@pytest.mark.parametrize("name", PAGES)
def test_nothing_runs_off_the_column_at_1280(browser, site_url, name):
    context, page, _ = _visit(browser, f"{site_url}{name}.html")
    try:
        offenders = page.evaluate(OVERFLOW_JS)
    finally:
        context.close()
    assert not offenders, f"{name}: wider than the column at 1280 px: {offenders}"


@pytest.mark.parametrize("name", PAGES)
def test_no_page_is_wider_than_a_phone(browser, site_url, screenshot_dir, name):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(f"{site_url}{name}.html", wait_until="networkidle")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        shot = screenshot_dir / f"phone-{name.replace('/', '-')}.png"
        page.screenshot(path=str(shot), full_page=True)
    finally:
        context.close()
    assert width <= 390, f"{name}: the page is {width} px wide on a 390 px phone"


@pytest.mark.parametrize("name", CHAPTERS)
def test_dark_mode_screenshot(browser, site_url, screenshot_dir, name):
    context, page, visit = _visit(
        browser, f"{site_url}{name}.html", color_scheme="dark"
    )
    try:
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        page.screenshot(path=str(screenshot_dir / f"dark-{name}.png"), full_page=True)
    finally:
        context.close()
    assert theme == "dark", f"{name}: a dark system setting gave the {theme} theme"


@pytest.mark.parametrize("name", CHAPTERS)
def test_each_progress_bar_is_one_line(browser, site_url, name):
    context, page, _ = _visit(browser, f"{site_url}{name}.html")
    try:
        blocks = page.eval_on_selector_all(
            "div.cell_output", "els => els.map(e => e.innerText)"
        )
    finally:
        context.close()
    for text in blocks:
        bars = [line for line in text.splitlines() if TQDM_LINE.search(line)]
        assert len(bars) <= 1, f"{name}: one output shows {len(bars)} bar lines: {bars}"
        assert all("100%" in line for line in bars), f"{name}: unfinished bar {bars}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_harness_cells_are_hidden(browser, site_url, name):
    context, page, _ = _visit(browser, f"{site_url}{name}.html")
    try:
        inputs = page.eval_on_selector_all(
            "div.cell_input", "els => els.map(e => e.innerText)"
        )
        injected = page.locator(".tag_injected-parameters").count()
    finally:
        context.close()
    assert inputs, f"{name}: no code cells rendered"
    shown = [t for t in inputs if t.lstrip().startswith(("# check:", "# record:"))]
    assert not shown, f"{name}: check cells are visible: {shown}"
    assert not any(t.lstrip().startswith("# Parameters") for t in inputs)
    assert injected == 0, f"{name}: papermill's injected parameters cell is visible"


@pytest.mark.parametrize("name", CHAPTERS)
def test_code_cells_have_copy_buttons(browser, site_url, name):
    context, page, _ = _visit(browser, f"{site_url}{name}.html")
    try:
        cells = page.locator("div.cell_input").count()
        buttons = page.locator("div.cell_input button.copybtn").count()
        on_outputs = page.locator("div.cell_output button.copybtn").count()
    finally:
        context.close()
    assert cells and buttons == cells, f"{name}: {buttons} copy buttons, {cells} cells"
    assert on_outputs == 0, f"{name}: outputs should not get copy buttons"


def test_the_favicon_loads(browser, site_url):
    context, page, visit = _visit(browser, f"{site_url}index.html")
    try:
        href = page.evaluate("() => document.querySelector('link[rel~=icon]').href")
        response = page.request.get(href)
        body = response.body()
    finally:
        context.close()
    assert response.ok, f"favicon {href}: HTTP {response.status}"
    assert body[:8] == b"\x89PNG\r\n\x1a\n", f"favicon {href} is not a PNG"


@pytest.mark.parametrize("name", ["index", *CHAPTERS])
def test_figures_are_readable_and_plots_have_alt_text(browser, site_url, name):
    context, page, _ = _visit(browser, f"{site_url}{name}.html")
    try:
        page.evaluate("() => window.scrollTo(0, document.body.scrollHeight)")
        page.wait_for_load_state("networkidle")
        images = page.evaluate(FIGURES_JS)
    finally:
        context.close()
    for img in images:
        assert img["natural"] > 0, f"{name}: {img['src']} did not load"
        alt = img["alt"].strip()
        assert alt and not re.fullmatch(r"[0-9a-f]{16,}(\.\w+)?", alt), (
            f"{name}: {img['src']} has no meaningful alt text ({alt!r})"
        )
        if img["output"]:  # a plot: drawn at twice the shown size (crisp on 2x screens)
            assert img["natural"] >= 1.9 * img["shown"], (
                f"{name}: plot {img['src']} is {img['natural']} px shown at "
                f"{img['shown']:.0f} px: draw it as retina (2x) PNG or SVG"
            )
        else:  # a concept figure drawn by images/draw_figures.py
            text_px = FIGURE_MIN_TEXT_PX * img["shown"] / img["natural"]
            assert text_px >= MIN_TEXT_CSS_PX, (
                f"{name}: {img['src']} is shown at {img['shown']:.0f} of "
                f"{img['natural']} px, so its smallest text is {text_px:.1f} CSS px"
            )


def test_figures_open_full_size(browser, site_url):
    chapter = next(c for c in CHAPTERS if (NOTEBOOKS / f"{c}.ipynb").is_file())
    context, page, _ = _visit(browser, f"{site_url}{chapter}.html")
    try:
        hrefs = page.eval_on_selector_all(
            "article.bd-article a.figure-full-size", "els => els.map(a => a.href)"
        )
        response = page.request.get(hrefs[0]) if hrefs else None
    finally:
        context.close()
    assert hrefs, f"{chapter}: no figure links to its full-size image"
    assert response.ok and response.headers["content-type"].startswith("image/")
