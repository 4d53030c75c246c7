"""tools.exercises cuts the learner versions from the solutions correctly, and a
check of torchprimer.exercises reports instead of raising."""

from __future__ import annotations

import nbformat
import pytest

from tools.exercises import build, learner_source, solution_source
from torchprimer.exercises import NotYet, Registry

SOLVED = """\
def linear(x, w, b):
    # BEGIN STARTER
    # return w @ x + b
    # END STARTER
    # BEGIN SOLUTION
    return x @ w.T + b
    # END SOLUTION"""


def test_a_solution_block_becomes_a_stub():
    src = "def f(x):\n    # BEGIN SOLUTION\n    return x + 1\n    # END SOLUTION"
    assert learner_source(src) == "def f(x):\n    ...  # your code here"
    assert solution_source(src) == "def f(x):\n    return x + 1"


def test_starter_code_replaces_the_solution():
    assert learner_source(SOLVED) == "def linear(x, w, b):\n    return w @ x + b"
    assert solution_source(SOLVED) == "def linear(x, w, b):\n    return x @ w.T + b"


def test_a_one_line_solution_keeps_its_name():
    assert learner_source("lr = 0.1  # SOLUTION") == "lr = ..."
    assert learner_source("same = a == b  # SOLUTION") == "same = ..."
    assert solution_source("lr = 0.1  # SOLUTION") == "lr = 0.1"


@pytest.mark.parametrize(
    "broken",
    [
        "# BEGIN SOLUTION\nx = 1",  # never ends
        "x = 1\n# END SOLUTION",  # never began
        "# BEGIN STARTER\nx = 1\n# END STARTER",  # starter code must be commented out
    ],
)
def test_malformed_markers_are_errors(broken):
    with pytest.raises(ValueError):
        learner_source(broken)


def test_the_site_page_hides_each_solution_in_a_toggle():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# x"), nbformat.v4.new_code_cell(SOLVED)]
    learner, site = build(nb)
    assert [c.cell_type for c in learner.cells] == ["markdown", "code"]
    assert [c.cell_type for c in site.cells] == ["markdown", "code", "markdown"]
    assert ":class: dropdown" in site.cells[2].source
    assert "x @ w.T + b" in site.cells[2].source
    assert "x @ w.T" not in learner.cells[1].source


def test_a_check_reports_learner_errors_and_never_raises():
    registry = Registry("99")

    @registry.exercise("double")
    def _(answers):
        if answers.call("double", 2) != 4:
            raise NotYet("double(2) should be 4.")

    def broken(x):
        return x / 0

    assert registry.run("double", {"double": lambda x: 2 * x}).passed
    missing = registry.run("double", {})
    assert not missing.passed and "not defined yet" in missing.message
    crashed = registry.run("double", {"double": broken})
    assert "stopped with ZeroDivisionError" in crashed.message
    stub = registry.run("double", {"double": lambda x: ...})
    assert "replace the `...`" in stub.message
    assert "no exercise 'triple'" in registry.run("triple", {}).message
