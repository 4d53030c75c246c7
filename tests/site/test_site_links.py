"""Offline checks of the built HTML: internal links and anchors, chapter order,
prev/next, outputs.

A small parser instead of a crawler: it reads every page once (a LinkChecker run with
AnchorCheck takes most of a minute here because it also downloads MathJax), and its
messages name the page, the link and the missing target.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from siteutil import chapter_names

CHAPTERS = chapter_names()
RESOURCE_TAGS = {
    ("img", "src"),
    ("script", "src"),
    ("link", "href"),
    ("source", "src"),
    ("iframe", "src"),
}


class Page(HTMLParser):
    """Ids, links and resources of one HTML file, plus a few landmarks of the theme."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.resources: list[str] = []
        self.nav: list[str] = []
        self.prev: str | None = None
        self.next: str | None = None
        self.cell_outputs = 0
        self._in_nav = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id", "name"):
            if a.get(key) and (key == "id" or tag == "a"):
                self.ids.add(a[key])
        classes = a.get("class", "").split()
        if tag == "nav" and "bd-docs-nav" in classes:
            self._in_nav = 1
        elif tag == "nav" and self._in_nav:
            self._in_nav += 1
        if tag == "div" and "cell_output" in classes:
            self.cell_outputs += 1
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
            if self._in_nav and "reference" in classes:
                self.nav.append(a["href"])
            if "left-prev" in classes:
                self.prev = a["href"]
            if "right-next" in classes:
                self.next = a["href"]
        for t, attr in RESOURCE_TAGS:
            if tag == t and a.get(attr):
                self.resources.append(a[attr])

    def handle_endtag(self, tag: str) -> None:
        if tag == "nav" and self._in_nav:
            self._in_nav -= 1


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


@pytest.fixture(scope="module")
def pages(site_dir) -> dict[Path, Page]:
    found = [*site_dir.glob("*.html"), *site_dir.glob("exercises/*.html")]
    return {p: parse(p) for p in sorted(found)}


def _target(site_dir: Path, page: Path, href: str) -> tuple[Path | None, str]:
    """The file and fragment an internal href points at; (None, '') for external or
    special links."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith(("mailto:", "javascript:")):
        return None, ""
    path = unquote(parts.path)
    target = page if not path else (page.parent / path).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target, unquote(parts.fragment)


def test_internal_links_and_anchors_resolve(site_dir, pages):
    problems = []
    ids = {p.resolve(): page.ids for p, page in pages.items()}
    for path, page in pages.items():
        for href in page.links + page.resources:
            target, fragment = _target(site_dir, path, href)
            if target is None:
                continue
            if not target.is_file():
                problems.append(f"{path.name}: {href} -> missing file")
            elif fragment and target.suffix == ".html":
                known = ids.get(target.resolve()) or parse(target).ids
                if fragment not in known:
                    problems.append(
                        f"{path.name}: {href} -> no id {fragment!r} in {target.name}"
                    )
    assert not problems, "broken internal links:\n" + "\n".join(problems)


def test_no_resource_comes_from_another_host(pages):
    remote = [
        f"{p.name}: {r}"
        for p, page in pages.items()
        for r in page.resources
        if urlsplit(r).scheme in ("http", "https") or r.startswith("//")
    ]
    assert not remote, "pages load resources from the network:\n" + "\n".join(remote)


def test_left_navigation_lists_the_chapters_in_order(site_dir, pages):
    nav = [href.split("#")[0] for href in pages[site_dir / "index.html"].nav]
    chapters_in_nav = [
        h.removesuffix(".html") for h in nav if h.removesuffix(".html") in CHAPTERS
    ]
    assert chapters_in_nav == CHAPTERS, f"navigation order {nav} != chapters {CHAPTERS}"


def reading_order(site_dir: Path) -> list[str]:
    """index, each chapter followed by its exercises page (where one is built), then
    the glossary."""
    order = ["index"]
    for chapter in CHAPTERS:
        order.append(chapter)
        exercises = f"exercises/{chapter}_exercises"
        if (site_dir / f"{exercises}.html").is_file():
            order.append(exercises)
    return [*order, "glossary"]


def test_prev_next_walk_through_the_chapters(site_dir, pages):
    order = reading_order(site_dir)
    assert len(order) > len(CHAPTERS) + 1

    def target(name: str, href: str | None) -> str | None:
        if href is None:
            return None
        path = (site_dir / name).parent / unquote(urlsplit(href).path)
        return path.resolve().relative_to(site_dir.resolve()).as_posix()

    for i, name in enumerate(order):
        page = pages[site_dir / f"{name}.html"]
        prev, next_ = target(name, page.prev), target(name, page.next)
        expected_prev = f"{order[i - 1]}.html" if i > 0 else None
        expected_next = f"{order[i + 1]}.html" if i + 1 < len(order) else None
        assert prev == expected_prev, (
            f"{name}: 'previous' goes to {prev}, expected {expected_prev}"
        )
        assert next_ == expected_next, (
            f"{name}: 'next' goes to {next_}, expected {expected_next}"
        )


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_stored_outputs_are_rendered(site_dir, pages, chapter):
    """Every code cell that has outputs in the rendered notebook shows them on its
    page, except the cells tagged to be left out."""
    source = json.loads(
        (site_dir / "_sources" / f"{chapter}.ipynb").read_text(encoding="utf-8")
    )
    hidden = {"remove-cell", "remove-output"}  # cells the page leaves out on purpose
    with_outputs = sum(
        1
        for c in source["cells"]
        if c["cell_type"] == "code"
        and c.get("outputs")
        and not hidden & set(c["metadata"].get("tags", []))
    )
    shown = pages[site_dir / f"{chapter}.html"].cell_outputs
    assert with_outputs > 0, (
        f"{chapter}: the notebook has no stored outputs; "
        f"run `make execute NB={chapter[:2]}`"
    )
    assert shown == with_outputs, (
        f"{chapter}: {shown} output blocks on the page, "
        f"{with_outputs} cells with outputs"
    )
