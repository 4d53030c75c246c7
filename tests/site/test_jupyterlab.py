"""Open notebook 01 in JupyterLab in a real browser, run its first cells, and see the
output appear.

This proves the "open it in JupyterLab" path: the server starts from the project's venv,
its kernel is the venv's Python, the notebook opens, the kernel runs cells and reaches
idle, and a known output is rendered. The notebook is a copy with its outputs cleared
(so the output on screen can only come from this run), in a temporary folder next to a
copy of images/ and a link to data/; JupyterLab's config, settings and runtime files
live in that folder too, so the repository is never written. The server is started by
`make lab` itself (with LAB_ROOT pointing at that folder), so this also proves that
`make lab` starts where CI runs: as root, in a container. The server's root is the
(copied) repository and the notebook sits in notebooks/, so the notebook's
`../images/...` figures are reachable.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from siteutil import NOTEBOOKS, ROOT

from tools.course import source

NOTEBOOK = "01_tensors.ipynb"
# A known output of notebook 01's first cells: `torch.__version__` shows the pinned
# version.
EXPECTED_OUTPUT = "'2.14."
STARTUP_TIMEOUT_S = 90
RUN_TIMEOUT_S = 120

# What `make lab` does not set: a fixed port and token, and nothing from the network.
# (allow_root is deliberately absent: `make lab` must add --allow-root itself as root.)
LAB_CONFIG = """\
c.ServerApp.ip = "127.0.0.1"
c.ServerApp.port = {port}
c.ServerApp.port_retries = 0
c.ServerApp.open_browser = False
c.IdentityProvider.token = {token!r}
# no announcements feed from jupyterlab.github.io
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.extension_manager = "readonly"                   # no PyPI queries
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _cells_to_run(nb: dict) -> int:
    """How many cells (from the top) to run so that the first cell showing
    EXPECTED_OUTPUT has run."""
    for i, cell in enumerate(nb["cells"]):
        for out in cell.get("outputs", []):
            text = out.get("text") or out.get("data", {}).get("text/plain", "")
            if EXPECTED_OUTPUT in ("".join(text) if isinstance(text, list) else text):
                return i + 1
    pytest.fail(
        f"no stored output of {NOTEBOOK} contains {EXPECTED_OUTPUT!r}; "
        "update EXPECTED_OUTPUT in tests/site/test_jupyterlab.py"
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    original = NOTEBOOKS / NOTEBOOK
    if not original.is_file():
        pytest.fail(f"notebooks/{NOTEBOOK} does not exist")
    work = tmp_path_factory.mktemp("lab")
    (work / "notebooks").mkdir()
    for name in ("data", "custom_dataset"):  # read by the kernel, which follows links
        if (ROOT / name).exists():
            (work / name).symlink_to(ROOT / name)
    # served by JupyterLab, which refuses links that leave its root: copy the figures
    shutil.copytree(
        ROOT / "images", work / "images", ignore=shutil.ignore_patterns("*.py")
    )
    nb = json.loads(original.read_text(encoding="utf-8"))
    n_cells = _cells_to_run(nb)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
    (work / "notebooks" / NOTEBOOK).write_text(
        json.dumps(nb, indent=1), encoding="utf-8"
    )
    images = sorted(
        {
            m.group(1)
            for c in nb["cells"]
            if c["cell_type"] == "markdown"
            for m in re.finditer(r"!\[[^\]]*\]\(([^)\s]+)\)", source(c))
        }
    )

    port, token = _free_port(), secrets.token_hex(16)
    config = work / "jupyter-config"
    config.mkdir()
    (config / "jupyter_lab_config.py").write_text(
        LAB_CONFIG.format(port=port, token=token), encoding="utf-8"
    )
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
        "JUPYTER_DATA_DIR": str(work / "jupyter-data"),
        "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ROOT={work}"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # make and Jupyter stop together (killpg below)
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                _get_json(f"{base}/api/status?token={token}")
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(
                        "JupyterLab did not start:\n"
                        f"{(work / 'lab.log').read_text()[-3000:]}"
                    )
                time.sleep(0.5)
        yield {
            "base": base,
            "token": token,
            "cells": n_cells,
            "log": work / "lab.log",
            "images": images,
        }
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def test_the_python3_kernel_is_the_project_venv(lab):
    specs = _get_json(f"{lab['base']}/api/kernelspecs?token={lab['token']}")[
        "kernelspecs"
    ]
    assert "python3" in specs, f"kernels offered: {sorted(specs)}"
    argv0 = specs["python3"]["spec"]["argv"][0]
    # ipykernel's built-in spec says "python"; the server then runs it with its own
    # interpreter.
    venv_python = Path(sys.executable)
    assert (
        argv0 in ("python", "python3", sys.executable)
        or Path(argv0).resolve() == venv_python.resolve()
    ), f"python3 kernel runs {argv0}, not the venv's {venv_python}"


def lab_cell_is_code(panel, index: int) -> bool:
    return "jp-CodeCell" in (
        panel.locator(".jp-Cell").nth(index).get_attribute("class") or ""
    )


def test_notebook_01_runs_in_jupyterlab(browser, lab, screenshot_dir):
    context = browser.new_context(
        viewport={"width": 1400, "height": 1000}, service_workers="block"
    )
    outside: list[str] = []
    errors: list[str] = []

    def route(r):
        if urlsplit(r.request.url).hostname == "127.0.0.1" or r.request.url.startswith(
            ("data:", "blob:")
        ):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort("blockedbyclient")

    context.route("**/*", route)
    page = context.new_page()
    page.on("pageerror", lambda err: errors.append(str(err)))
    panel = page.locator(".jp-NotebookPanel:visible")
    idle = panel.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    try:
        page.goto(
            f"{lab['base']}/lab/tree/notebooks/{NOTEBOOK}?token={lab['token']}",
            wait_until="load",
        )
        panel.locator(".jp-Cell").first.wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
        # The kernel is up when the status bar names it and says Idle; give it a moment
        # to settle.
        page.locator(
            ".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")
        ).first.wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
        idle.wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
        page.wait_for_timeout(1500)
        idle.wait_for(timeout=STARTUP_TIMEOUT_S * 1000)
        kernel_label = page.locator(
            ".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")
        ).first.inner_text()

        panel.locator(".jp-Cell").first.click()
        page.keyboard.press(
            "Escape"
        )  # command mode: Shift+Enter runs the cell and selects the next
        for i in range(lab["cells"]):
            page.keyboard.press("Shift+Enter")
            if lab_cell_is_code(panel, i):
                prompt = (
                    panel.locator(".jp-Cell").nth(i).locator(".jp-InputArea-prompt")
                )
                prompt.filter(has_text=re.compile(r"\[\d+\]")).wait_for(
                    timeout=RUN_TIMEOUT_S * 1000
                )
        output = panel.locator(".jp-OutputArea-output", has_text=EXPECTED_OUTPUT)
        output.first.wait_for(timeout=RUN_TIMEOUT_S * 1000)
        idle.wait_for(timeout=RUN_TIMEOUT_S * 1000)
        prompts = panel.locator(".jp-InputArea-prompt").all_inner_texts()
        page.screenshot(path=str(screenshot_dir / "jupyterlab-01_tensors.png"))
        missing_images = []
        for ref in lab["images"]:
            path = posixpath.normpath(posixpath.join("notebooks", ref))
            response = page.request.get(
                f"{lab['base']}/files/{path}?token={lab['token']}"
            )
            if not response.ok:
                missing_images.append(f"{ref} (HTTP {response.status})")
    except Exception as err:
        page.screenshot(path=str(screenshot_dir / "jupyterlab-01_tensors-failed.png"))
        raise AssertionError(
            f"JupyterLab run failed: {err}\n"
            "See _build/screenshots/jupyterlab-01_tensors-failed.png "
            f"and the server log:\n{lab['log'].read_text()[-3000:]}"
        ) from err
    finally:
        context.close()

    numbered = [p.strip() for p in prompts if re.fullmatch(r"\[\d+\]:", p.strip())]
    assert numbered[:1] == ["[1]:"], f"execution counts shown: {prompts[:8]}"
    assert "Idle" in kernel_label, kernel_label
    assert not missing_images, (
        f"JupyterLab cannot serve the notebook's figures: {missing_images}"
    )
    assert not errors, f"JupyterLab raised errors in the page: {errors}"
    assert not outside, f"JupyterLab tried to reach other hosts: {outside}"
