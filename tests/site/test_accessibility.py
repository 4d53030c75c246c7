"""Accessibility: axe-core, in Chromium, on every page of the site, in light and dark
mode. A serious or critical violation fails (contrast, missing alt text, unnamed
buttons and links, ...); axe-core is bundled with the PyPI package
axe-playwright-python, so nothing is fetched. A screenshot of each page at 1280 px in
each mode goes to _build/screenshots/.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from siteutil import chapter_names, exercise_pages
from test_site_pages import open_page

PAGES = ["index", "glossary", *chapter_names(), *exercise_pages(), "search", "genindex"]
FAILING_IMPACTS = {"serious", "critical"}
AXE = Axe()


def describe(violation: dict) -> str:
    nodes = violation["nodes"]
    where = "; ".join(", ".join(node["target"]) for node in nodes[:3])
    summary = nodes[0].get("failureSummary", "").replace("\n", " ")[:200]
    return (
        f"{violation['id']} ({violation['impact']}, {len(nodes)} element(s): "
        f"{where}): {violation['help']}. {summary}"
    )


@pytest.mark.parametrize("mode", ["light", "dark"])
@pytest.mark.parametrize("name", PAGES)
def test_no_serious_accessibility_violation(
    browser, site_url, screenshot_dir, name, mode
):
    context, page, _ = open_page(browser, f"{site_url}{name}.html", color_scheme=mode)
    try:
        page.wait_for_load_state("networkidle")
        theme = page.evaluate("() => document.documentElement.dataset.theme")
        shot = screenshot_dir / f"{mode}-1280-{name.replace('/', '-')}.png"
        page.screenshot(path=str(shot), full_page=True)
        violations = AXE.run(page).response["violations"]
    finally:
        context.close()
    assert theme == mode, f"{name}: asked for {mode}, got the {theme} theme"
    serious = [v for v in violations if v["impact"] in FAILING_IMPACTS]
    assert not serious, f"{name} ({mode}):\n" + "\n".join(map(describe, serious))
