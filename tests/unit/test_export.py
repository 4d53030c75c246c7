"""One source for taught code: the package holds exactly what the chapters export.

``make export`` (tools/export.py) writes every cell tagged ``export:NAME`` into
``src/torchprimer/NAME.py``. These tests fail when a module differs from its chapters,
when a chapter or a benchmark defines a copy of package code, and when the exporter
would write a module that cannot work.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
from pathlib import Path

import pytest

from tools import export
from tools.course import ROOT, chapter, chapters, load, source, tags


def test_the_package_is_what_the_chapters_export():
    problems = export.stale()
    assert not problems, "run `make export`:\n" + "\n".join(problems)


def test_editing_an_exported_cell_without_make_export_is_caught(monkeypatch):
    training = chapter("05").path
    edited = load(training)
    cell = next(c for c in edited["cells"] if "export:engine" in tags(c))
    cell["source"] = source(cell).replace("model.train()", "model.train()  # edited")

    def load_edited(path: Path) -> dict:
        return copy.deepcopy(edited) if Path(path) == training else load(path)

    monkeypatch.setattr(export, "load", load_edited)
    assert export.stale() == ["src/torchprimer/engine.py differs from its chapters"]


def test_every_generated_module_says_so_and_names_its_chapters():
    generated = export.generated_files()
    assert {p.stem for p in generated} == set(export.module_docs())
    for path in generated:
        head = path.read_text(encoding="utf-8").splitlines()[:4]
        assert head[0].startswith(export.GENERATED), path
        assert any(line.startswith("#   notebooks/") for line in head), path


def test_generated_modules_import_and_export_what_they_define():
    for path in export.generated_files():
        module = importlib.import_module(f"torchprimer.{path.stem}")
        for name in getattr(module, "__all__", []):
            assert hasattr(module, name), f"{path.name}: __all__ names {name}"


def package_definitions() -> dict[str, str]:
    """name -> module of every top-level function and class in src/torchprimer/."""
    found = {}
    for path in sorted(export.PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.setdefault(node.name, str(path.relative_to(ROOT)))
    return found


@pytest.mark.parametrize("chap", chapters(), ids=lambda c: c.path.name)
def test_a_chapter_defines_no_copy_of_package_code(chap):
    """A definition the package has is exported from its chapter, or imported."""
    package = package_definitions()
    for index, cell in enumerate(load(chap.path)["cells"]):
        if cell["cell_type"] != "code" or any(
            t.startswith("export:") for t in tags(cell)
        ):
            continue
        code = "\n".join(
            "" if line.lstrip().startswith(("%", "!")) else line
            for line in source(cell).splitlines()
        )
        for node in ast.parse(code).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                assert node.name not in package, (
                    f"{chap.path.name} cell {index} defines {node.name}, which "
                    f"{package[node.name]} has: tag the cell export:NAME or import it"
                )


@pytest.mark.parametrize("script", sorted((ROOT / "benchmarks").glob("*.py")))
def test_a_benchmark_defines_no_copy_of_package_code(script):
    package = package_definitions()
    for node in ast.parse(script.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            assert node.name not in package, (
                f"{script.name} defines {node.name}; it is in {package[node.name]}"
            )


# --- the exporter on small notebooks -----------------------------------------------


def write_chapter(tmp_path: Path, cells: list[tuple[str, list[str]]]) -> Path:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {"tags": t}, "source": s, "outputs": []}
            for s, t in cells
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    path = tmp_path / "notebooks" / "05_demo.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), encoding="utf-8")
    return path


def demo(tmp_path: Path, cells: list[tuple[str, list[str]]]) -> export.Chapter:
    return export.Chapter("05", write_chapter(tmp_path, cells), "Demo", 1)


def module_text(chap: export.Chapter) -> str:
    blocks = export.exported_blocks([chap])
    return export._library_module("engine", "Demo.", blocks["engine"], {})


def test_a_module_imports_what_its_cells_use_as_the_chapter_imports_it(tmp_path):
    chap = demo(
        tmp_path,
        [
            (
                "import math\nimport torch\nfrom torch import nn\nimport pandas as pd",
                [],
            ),
            (
                "def area(r: float) -> torch.Tensor:\n    return math.pi * r**2",
                ["export:engine"],
            ),
            ("class Net(nn.Module):\n    pass", ["export:engine"]),
        ],
    )
    text = module_text(chap)
    assert "import math\n" in text and "import torch\n" in text
    assert "from torch import nn\n" in text
    assert "pandas" not in text  # the chapter imports it, the module does not need it
    assert '__all__ = ["area", "Net"]' in text


def test_a_name_the_chapter_does_not_import_is_an_error(tmp_path):
    chap = demo(tmp_path, [("def f():\n    return np.zeros(3)", ["export:engine"])])
    with pytest.raises(export.ExportError, match="np is neither imported"):
        module_text(chap)


def test_an_exported_cell_that_would_run_code_on_import_is_refused(tmp_path):
    chap = demo(tmp_path, [("def f():\n    return 1\n\nprint(f())", ["export:engine"])])
    with pytest.raises(export.ExportError, match="line 4 would run on import"):
        module_text(chap)


def test_free_names_are_the_globals_a_cell_uses_without_defining():
    code = (
        "LIMIT = 3\n"
        "def f(x: Sequence[int]) -> int:\n"
        "    y = [nn.Linear(a, LIMIT) for a in x]\n"
        "    return len(y) + helper(x)\n"
    )
    assert export.free_names(code) == {"Sequence", "nn", "helper"}


def test_writefile_cells_become_the_script_they_write(tmp_path):
    chap = demo(
        tmp_path,
        [
            ('%%writefile {script}\n"""A script."""\nimport sys', ["export:engine"]),
            ("%%writefile -a {script}\n\nprint(sys.argv)", ["export:engine"]),
        ],
    )
    blocks = export.exported_blocks([chap])["engine"]
    text = export._script_module("engine", blocks)
    assert text.endswith('"""A script."""\nimport sys\n\nprint(sys.argv)\n')
    assert text.startswith(export.GENERATED)
