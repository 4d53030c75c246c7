"""Open every page of the static site in Chromium and check what a reader would see.

Per page: no failed request, no request leaving 127.0.0.1, no console error, every <img>
loaded, every math element typeset by MathJax; one full-page screenshot into
_build/screenshots/. Plus: math on the autograd chapter, full-text search, the .ipynb
download, light/dark mode.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from siteutil import NOTEBOOKS, chapter_names

from tools.course import chapter as course_chapter
from tools.course import load, source

CHAPTERS = chapter_names()
PAGES = ["index", *CHAPTERS, "search", "genindex"]
LOCAL_HOSTS = {"127.0.0.1"}

# Console errors we tolerate, each as (pattern, reason). Empty on purpose: the one
# message the theme logged ("Got invalid theme mode: .") is fixed in conf.py
# (html_context default_mode) instead.
CONSOLE_ALLOWLIST: list[tuple[re.Pattern[str], str]] = []

WAIT_FOR_IMAGES_JS = """
async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(img => { img.loading = "eager"; });
  const settle = img => img.complete ? Promise.resolve() : new Promise(resolve => {
    img.addEventListener("load", resolve, {once: true});
    img.addEventListener("error", resolve, {once: true});
  });
  const timeout = new Promise(resolve => setTimeout(resolve, 15000));
  await Promise.race([Promise.all(imgs.map(settle)), timeout]);
  return imgs.map(img => ({src: img.currentSrc || img.src, width: img.naturalWidth}));
}
"""

# Resolves once MathJax has typeset the page (or at once on a page that loads no
# MathJax).
MATHJAX_DONE_JS = """
async () => {
  if (!window.MathJax) return "absent";
  for (let i = 0; i < 200 && !(MathJax.startup && MathJax.startup.promise); i++) {
    await new Promise(r => setTimeout(r, 50));
  }
  if (!(MathJax.startup && MathJax.startup.promise)) return "never started";
  await MathJax.startup.promise;
  return "done";
}
"""

UNRENDERED_MATH_JS = """
() => Array.from(document.querySelectorAll("span.math, div.math"))
        .filter(el => !el.querySelector("mjx-container"))
        .map(el => el.textContent.slice(0, 60))
"""


@dataclass
class Visit:
    requests: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def _is_local(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOCAL_HOSTS


def open_page(browser, url: str, *, color_scheme: str = "light"):
    """A fresh browser context on url, with every request and console message
    recorded."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        color_scheme=color_scheme,
        service_workers="block",
    )
    visit = Visit()

    def route(r):
        if _is_local(r.request.url):
            r.continue_()
        else:  # record it, and make sure it never reaches the network
            visit.outside.append(r.request.url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("request", lambda req: visit.requests.append(req.url))
    page.on(
        "requestfailed", lambda req: visit.failed.append(f"{req.url} ({req.failure})")
    )
    page.on(
        "response",
        lambda res: (
            res.status >= 400 and visit.failed.append(f"{res.url} (HTTP {res.status})")
        ),
    )
    page.on(
        "console",
        lambda msg: (
            msg.type == "error"
            and visit.console_errors.append(
                f"{msg.text} @ {msg.location.get('url', '')}"
            )
        ),
    )
    page.on("pageerror", lambda err: visit.console_errors.append(f"uncaught: {err}"))
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page, visit


def _unexpected_console_errors(errors: list[str]) -> list[str]:
    return [e for e in errors if not any(p.search(e) for p, _ in CONSOLE_ALLOWLIST)]


def test_every_chapter_has_a_page(site_dir):
    missing = [name for name in PAGES if not (site_dir / f"{name}.html").is_file()]
    assert not missing, (
        f"pages missing from the site (rebuild with `make site`): {missing}"
    )


@pytest.mark.parametrize("name", PAGES)
def test_page_loads_cleanly(browser, site_url, site_dir, screenshot_dir, name):
    if not (site_dir / f"{name}.html").is_file():
        pytest.fail(f"{name}.html is not in the site; rebuild with `make site`")
    context, page, visit = open_page(browser, f"{site_url}{name}.html")
    try:
        images = page.evaluate(WAIT_FOR_IMAGES_JS)
        mathjax = page.evaluate(MATHJAX_DONE_JS)
        unrendered = page.evaluate(
            UNRENDERED_MATH_JS
        )  # math left as TeX, whether or not MathJax loaded
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(screenshot_dir / f"{name}.png"), full_page=True)
    finally:
        context.close()

    assert not visit.outside, f"{name}: requests leave 127.0.0.1: {visit.outside}"
    assert not visit.failed, f"{name}: failed requests: {visit.failed}"
    errors = _unexpected_console_errors(visit.console_errors)
    assert not errors, f"{name}: console errors: {errors}"
    broken = [img["src"] for img in images if img["width"] == 0]
    assert not broken, f"{name}: images that did not load: {broken}"
    assert mathjax != "never started", f"{name}: MathJax was loaded but never started"
    assert not unrendered, f"{name}: math left untypeset: {unrendered}"


def test_autograd_page_renders_math(browser, site_url, site_dir):
    pages = [c for c in CHAPTERS if c.endswith("_autograd")]
    assert pages, "no NN_autograd chapter in the site: the math check needs it"
    context, page, visit = open_page(browser, f"{site_url}{pages[0]}.html")
    try:
        assert page.evaluate(MATHJAX_DONE_JS) == "done", (
            "MathJax did not load on the autograd page"
        )
        count = page.locator("mjx-container").count()
        src = page.evaluate(
            "() => document.querySelector('script[src*=\"mathjax\"]').src"
        )
    finally:
        context.close()
    assert count > 0, "the autograd page shows no typeset math (no <mjx-container>)"
    assert _is_local(src), f"MathJax is loaded from {src}, not from the site itself"
    assert not visit.outside and not visit.failed, (visit.outside, visit.failed)


@pytest.mark.parametrize("query", ["autograd", "DataLoader"])
def test_search_finds(browser, site_url, query):
    context, page, visit = open_page(browser, f"{site_url}search.html?q={query}")
    try:
        results = page.locator("#search-results ul.search li")
        try:
            results.first.wait_for(timeout=20000)
        except Exception:  # noqa: BLE001 - report what the page says instead of a timeout
            summary = page.locator("#search-results").inner_text()
            pytest.fail(f"search for {query!r} shows no results: {summary!r}")
        hrefs = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(a => a.href)"
        )
    finally:
        context.close()
    chapter_hits = [h for h in hrefs if any(f"/{c}.html" in h for c in CHAPTERS)]
    assert chapter_hits, f"search for {query!r} finds no chapter: {hrefs}"
    assert not visit.outside and not visit.failed, (visit.outside, visit.failed)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_download_button_serves_the_notebook(browser, site_url, chapter):
    context, page, _ = open_page(browser, f"{site_url}{chapter}.html")
    try:
        link = page.locator(f"a[href$='_sources/{chapter}.ipynb']")
        assert link.count() >= 1, (
            f"{chapter}: no download link to _sources/{chapter}.ipynb"
        )
        href = link.first.evaluate("a => a.href")
        response = page.request.get(href)
        assert response.ok, f"{href}: HTTP {response.status}"
        nb = json.loads(response.text())
    finally:
        context.close()
    assert nb["nbformat"] == 4, f"{href} is not an nbformat-4 notebook"
    first = source(nb["cells"][0]) if nb["cells"] else ""
    assert first.startswith(course_chapter(chapter[:2]).heading), (
        f"{href} does not start with the chapter's title cell"
    )


def test_light_and_dark_mode(browser, site_url, screenshot_dir):
    context, page, visit = open_page(
        browser, f"{site_url}index.html", color_scheme="light"
    )
    try:
        assert page.evaluate("() => document.documentElement.dataset.theme") == "light"
        light_bg = page.evaluate(
            "() => getComputedStyle(document.body).backgroundColor"
        )
        page.locator(
            ".theme-switch-button:visible"
        ).first.click()  # opens the colour-mode menu
        page.locator(".theme-change-button[data-mode='dark']:visible").first.click()
        assert (
            page.evaluate("() => document.documentElement.dataset.theme") == "dark"
        ), "the theme switch never reached dark mode"
        dark_bg = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
        page.mouse.click(5, 600)  # close the menu
        page.screenshot(path=str(screenshot_dir / "index-dark.png"), full_page=False)
        page.goto(
            page.url.replace("index.html", f"{CHAPTERS[0]}.html")
        )  # the choice is remembered
        remembered = page.evaluate("() => document.documentElement.dataset.theme")
    finally:
        context.close()
    assert light_bg != dark_bg, f"dark mode did not change the background ({light_bg})"
    assert remembered == "dark", "the next page forgot the dark-mode choice"
    assert not _unexpected_console_errors(visit.console_errors), visit.console_errors


SECTION_QUERIES = ["channels_last", "set_epoch", "weights_only"]


@pytest.mark.parametrize("query", SECTION_QUERIES)
def test_search_lands_on_the_section_that_teaches_a_term(browser, site_url, query):
    context, page, _ = open_page(browser, f"{site_url}search.html?q={query}")
    try:
        page.locator("#search-results ul.search li").first.wait_for(timeout=20000)
        hrefs = page.eval_on_selector_all(
            "#search-results ul.search li a", "els => els.map(a => a.href)"
        )
        sections = [h for h in hrefs if any(f"/{c}.html#" in h for c in CHAPTERS)]
        assert sections, f"search for {query!r} links no chapter's section: {hrefs}"
        hit = sections[0]
        page.goto(hit)
        title = page.evaluate(
            "() => document.getElementById(location.hash.slice(1))"
            "?.closest('section')?.querySelector('h1, h2, h3, h4')?.textContent"
        )
    finally:
        context.close()
    assert title and query in title, f"{hit} lands on {title!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapter_page_says_when_and_on_what_its_outputs_were_made(
    browser, site_url, chapter
):
    record = load(NOTEBOOKS / f"{chapter}.ipynb")["metadata"]["torchprimer"]
    context, page, _ = open_page(browser, f"{site_url}{chapter}.html")
    try:
        shown = page.locator(".run-this-chapter p.provenance").inner_text()
    finally:
        context.close()
    for value in [record["executed"], record["torch"], record["cpu_capability"]]:
        assert str(value) in shown, f"{chapter}: {value!r} not in {shown!r}"
    assert f"{record['threads']} threads) in {record['seconds']} s." in shown, shown


def test_the_first_page_shows_the_whole_course(browser, site_url):
    context, page, _ = open_page(browser, f"{site_url}index.html")
    try:
        section = page.locator("#the-chapters")
        headings = section.locator("h3 a:not(.headerlink)").evaluate_all(
            "els => els.map(a => a.getAttribute('href'))"
        )
        text = section.inner_text()
        thumbnails = section.locator("img.chapter-thumbnail").count()
        exercises = section.locator("a[href^='exercises/']").count()
        paths = page.locator("#who-it-is-for-and-where-to-start li").count()
    finally:
        context.close()
    assert [h.split("#")[0] for h in headings] == [f"{c}.html" for c in CHAPTERS]
    assert text.count("You will be able to") == len(CHAPTERS)
    assert thumbnails == exercises == len(CHAPTERS), (thumbnails, exercises)
    assert paths == 3, "one reading path each: from scratch, speed and scale, teaching"
