"""Notebook lint in plain Python: structure rules that nbval cannot see."""

from __future__ import annotations

import ast
import getpass
import re
import subprocess
import sys

import pytest

from tools.course import (
    ROOT,
    chapter,
    chapters,
    declared_parameters,
    load,
    source,
    strip_magics,
    tags,
)

NOTEBOOKS = [c.path for c in chapters()]
IDS = [p.name for p in NOTEBOOKS]
NAME_RE = re.compile(r"^\d\d_[a-z][a-z0-9_]*\.ipynb$")
KNOWN_MAGICS = {"matplotlib", "time", "timeit", "config"}
EXPORT_TAG = "export:"  # make export writes such a cell into the package
PRIVATE_IMPORT = re.compile(
    r"^\s*(from\s+torchprimer(\.\w+)*\s+import\s+.*\b_\w|"
    r"from\s+torchprimer(\.\w+)*\._\w+|import\s+torchprimer(\.\w+)*\._)"
)
PARAMETERS_WITHIN_FIRST = 4  # code cells
IMAGE_RE = re.compile(
    r"!\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|<img[^>]+src=\"([^\"]+)\""
)
ABSOLUTE_PATH_RE = re.compile(
    r"(/home/|/root/|/Users/|/tmp/|/work/|site-packages|[A-Za-z]:\\Users)"
)
USER = getpass.getuser()
ALLOWED_NBVAL_TAGS = {"nbval-ignore-output"}
ASSERT_WITHIN = 2  # code cells after an ignored one
MAX_CELLS = 80
MAX_CODE_LINES = 15
MAX_CODE_LINES_TAUGHT = 30  # a cell that shows a function or class in full
MAX_LINE = 88
CHECK_TAG = "remove-cell"  # myst-nb drops these cells from the site
CHECK_PREFIXES = ("# check:", "# record:")
MAX_CHECK_LINES = 8
# Learner text is about PyTorch, never about how the course itself is tested.
HARNESS_WORDS = re.compile(
    r"\bnbval\b|\bthe tests?\b|\btest harness\b|\bcompared\b|\btests/|"
    r"\bstored outputs?\b|\bpapermill\b",
    re.I,
)
RUFF_PATHS = [
    "notebooks",
    "src",
    "tools",
    "tests",
    "benchmarks",
    "custom_dataset",
    "images",
    "site",
    "conftest.py",
]


def test_there_are_notebooks():
    assert NOTEBOOKS, "course.toml lists no chapters"


def test_every_notebook_is_a_chapter_of_the_course():
    found = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert found == sorted(NOTEBOOKS), (
        "notebooks/ and the chapters in course.toml differ: "
        f"{sorted(set(found) ^ set(NOTEBOOKS))}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_private_imports(path):
    """What a chapter needs from torchprimer is public and documented."""
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] != "code":
            continue
        for line in source(c).splitlines():
            assert not PRIVATE_IMPORT.match(line), (
                f"{path.name}: cell {i + 1} imports a private name: {line.strip()}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_file_name(path):
    assert NAME_RE.match(path.name), f"{path.name}: name must look like NN_topic.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_kernelspec_is_python3(path):
    spec = load(path)["metadata"].get("kernelspec", {})
    assert spec.get("name") == "python3", (
        f"{path.name}: kernelspec is {spec!r}, expected python3"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_one_parameters_cell_near_the_top(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    param_idx = [i for i, c in enumerate(code) if "parameters" in tags(c)]
    assert len(param_idx) == 1, (
        f"{path.name}: {len(param_idx)} cells tagged 'parameters', expected 1"
    )
    assert param_idx[0] < PARAMETERS_WITHIN_FIRST, (
        f"{path.name}: the parameters cell is code cell {param_idx[0] + 1}; "
        "put it in the first "
        f"{PARAMETERS_WITHIN_FIRST}"
    )
    for node in ast.parse(source(code[param_idx[0]])).body:
        assert isinstance(node, (ast.Assign, ast.AnnAssign)), (
            f"{path.name}: the parameters cell may only assign values "
            f"(line {node.lineno})"
        )
    names = sorted(declared_parameters(load(path)))
    bad = [n for n in names if not re.fullmatch(r"[A-Z][A-Z0-9_]*", n)]
    assert not bad, f"{path.name}: parameter names must be UPPER_CASE: {bad}"
    assert {"DEVICE", "SEED"} <= set(names), (
        f"{path.name}: parameters lack DEVICE or SEED: {names}"
    )
    # never reassigned later in the notebook (=, +=, for targets, :=, with ... as, ...)
    for c in code[param_idx[0] + 1 :]:
        for node in ast.walk(ast.parse(strip_magics(source(c)))):
            if isinstance(node, ast.Name) and isinstance(
                node.ctx, (ast.Store, ast.Del)
            ):
                assert node.id not in names, (
                    f"{path.name}: parameter {node.id} is reassigned in a later cell"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_execution_counts_are_one_top_to_bottom_run(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..{len(code)}; "
        f"run `make execute NB={path.name[:2]}`"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_error_outputs(path):
    for i, c in enumerate(load(path)["cells"]):
        for out in c.get("outputs", []):
            assert out.get("output_type") != "error", (
                f"{path.name}: cell {i + 1} stored an error: "
                f"{out.get('ename')}: {out.get('evalue')}"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_absolute_paths_or_user_names_in_outputs(path):
    for i, c in enumerate(load(path)["cells"]):
        for out in c.get("outputs", []):
            texts = [out.get("text", "")] + [
                v for k, v in out.get("data", {}).items() if k.startswith("text/")
            ]
            for text in texts:
                text = "".join(text) if isinstance(text, list) else text
                m = ABSOLUTE_PATH_RE.search(text)
                assert not m, (
                    f"{path.name}: cell {i + 1} output shows a machine path: "
                    f"{text[max(0, m.start() - 40) : m.end() + 40]!r}"
                )
                if USER not in (
                    "root",
                    "user",
                    "runner",
                ):  # names too generic to search for
                    assert not re.search(rf"\b{re.escape(USER)}\b", text), (
                        f"{path.name}: cell {i + 1} output shows the user name"
                    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_referenced_images_exist(path):
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] != "markdown":
            continue
        for m in IMAGE_RE.finditer(source(c)):
            ref = m.group(1) or m.group(2)
            if ref.startswith(("http:", "https:", "data:", "attachment:")):
                assert not ref.startswith("http"), (
                    f"{path.name}: cell {i + 1} loads a remote image {ref}"
                )
                continue
            assert (path.parent / ref).resolve().is_file(), (
                f"{path.name}: cell {i + 1} references missing image {ref}"
            )


def exported(cell: dict) -> bool:
    return any(t.startswith(EXPORT_TAG) for t in tags(cell))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_unknown_magics(path):
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] != "code":
            continue
        if exported(c) and source(c).startswith("%%writefile"):
            continue  # a script the chapter writes, and make export copies
        for line in source(c).splitlines():
            s = line.strip()
            if s.startswith("!"):
                pytest.fail(f"{path.name}: cell {i + 1} runs a shell command: {s}")
            if s.startswith("%"):
                name = s.lstrip("%").split()[0]
                assert name in KNOWN_MAGICS, (
                    f"{path.name}: cell {i + 1} uses unknown magic %{name}"
                )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_opens_with_title_and_goals_and_ends_with_summary(path):
    cells = load(path)["cells"]
    title = chapter(path.name[:2]).heading
    first = source(cells[0]) if cells[0]["cell_type"] == "markdown" else ""
    assert first.splitlines()[:1] == [title], (
        f"{path.name}: the first cell must start with the title line {title!r}"
    )
    assert "**Learning goals.**" in first, (
        f"{path.name}: the first cell must list '**Learning goals.**'"
    )
    last_md = [c for c in cells if c["cell_type"] == "markdown"][-1]
    assert re.search(r"^##\s+Summary", source(last_md), re.M), (
        f"{path.name}: the last markdown cell must be '## Summary'"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_star_imports_and_writefile_only_for_exported_scripts(path):
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] == "code":
            s = source(c)
            assert "import *" not in s, f"{path.name}: cell {i + 1} uses import *"
            assert "%%writefile" not in s or exported(c), (
                f"{path.name}: cell {i + 1} uses %%writefile; only a script that "
                "make export copies into the package (a cell tagged export:NAME) may"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_only_the_ignore_output_exemption(path):
    """tests/README.md: the one nbval exemption is the nbval-ignore-output tag."""
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    for i, c in enumerate(code):
        nbval_tags = {t for t in tags(c) if t.startswith("nbval")}
        assert nbval_tags <= ALLOWED_NBVAL_TAGS, (
            f"{path.name}: code cell {i + 1} has {nbval_tags - ALLOWED_NBVAL_TAGS}"
        )
        assert "NBVAL_" not in source(c), (
            f"{path.name}: code cell {i + 1} uses an NBVAL_ comment marker"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_parameters_are_checked_in_the_next_cell(path):
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    index = next(i for i, c in enumerate(code) if "parameters" in tags(c))
    assert index + 1 < len(code), f"{path.name}: nothing follows the parameters cell"
    calls = [
        node
        for node in ast.walk(ast.parse(source(code[index + 1])))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", getattr(node.func, "attr", ""))
        == "check_parameters"
    ]
    assert len(calls) == 1, (
        f"{path.name}: the cell after the parameters cell must call "
        "check_parameters once"
    )
    passed = {
        kw.arg
        for kw in calls[0].keywords
        if isinstance(kw.value, ast.Name) and kw.value.id == kw.arg
    }
    missing = set(declared_parameters(nb)) - passed
    assert not missing, (
        f"{path.name}: check_parameters must get every parameter as NAME=NAME; "
        f"missing {sorted(missing)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_size_limits(path):
    cells = load(path)["cells"]
    assert len(cells) <= MAX_CELLS, (
        f"{path.name}: {len(cells)} cells; keep a chapter to {MAX_CELLS} or split it"
    )
    for i, c in enumerate(cells):
        if c["cell_type"] != "code":
            continue
        lines = source(c).rstrip("\n").splitlines()
        tree = ast.parse(strip_magics(source(c)))
        teaches = exported(c) or any(
            isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in tree.body
        )
        limit = MAX_CODE_LINES_TAUGHT if teaches else MAX_CODE_LINES
        assert len(lines) <= limit, (
            f"{path.name}: cell {i + 1} has {len(lines)} lines, more than {limit}"
        )
        long = [n for n, line in enumerate(lines, 1) if len(line) > MAX_LINE]
        assert not long, f"{path.name}: cell {i + 1} lines {long} exceed {MAX_LINE}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_check_cells_are_short_tagged_and_say_what_they_check(path):
    code = [c for c in load(path)["cells"] if c["cell_type"] == "code"]
    for i, c in enumerate(code):
        src = source(c)
        is_check = CHECK_TAG in tags(c)
        if is_check:
            assert src.startswith(CHECK_PREFIXES), (
                f"{path.name}: code cell {i + 1} is tagged {CHECK_TAG}; start it with "
                "'# check: <what it checks>' (or '# record: ...')"
            )
            assert len(src.splitlines()) <= MAX_CHECK_LINES, (
                f"{path.name}: check cell {i + 1} is longer than "
                f"{MAX_CHECK_LINES} lines"
            )
            hidden = c.get("metadata", {}).get("jupyter", {}).get("source_hidden")
            assert hidden is True, (
                f"{path.name}: check cell {i + 1} shows its code in JupyterLab; "
                'collapse it: metadata {"jupyter": {"source_hidden": true}}'
            )
        elif src.startswith(CHECK_PREFIXES):
            pytest.fail(
                f"{path.name}: code cell {i + 1} is a check; tag it {CHECK_TAG}"
            )
        if "metrics" in tags(c):
            assert is_check, (
                f"{path.name}: metrics cell {i + 1} must be tagged {CHECK_TAG}"
            )
        if "nbval-ignore-output" in tags(c):
            following = code[i + 1 : i + 1 + ASSERT_WITHIN]
            assert any(
                CHECK_TAG in tags(f) and re.search(r"^\s*assert\b", source(f), re.M)
                for f in following
            ), (
                f"{path.name}: code cell {i + 1} hides its output from comparison; "
                "one of "
                f"the next {ASSERT_WITHIN} code cells must be a '# check:' cell that "
                "asserts on its results with a tolerance"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_learner_text_is_about_pytorch_not_the_harness(path):
    for i, c in enumerate(load(path)["cells"]):
        if c["cell_type"] != "markdown":
            continue
        m = HARNESS_WORDS.search(source(c))
        assert not m, (
            f"{path.name}: markdown cell {i + 1} talks about the harness "
            f"({m.group()!r})"
        )


@pytest.mark.parametrize("mode", ["check", "format"])
def test_ruff(mode):
    args = ["check", "--no-cache"] if mode == "check" else ["format", "--check"]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *args, *RUFF_PATHS],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"ruff {mode}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_plots_have_alt_text(path):
    """A plot on the site needs words for readers who cannot see it: the cell's
    ``mystnb.image.alt`` metadata (myst-nb puts it on the <img>)."""
    for i, c in enumerate(load(path)["cells"]):
        images = [
            o
            for o in c.get("outputs", [])
            if any(k.startswith("image/") for k in o.get("data", {}))
        ]
        if not images:
            continue
        alt = c.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
        assert len(alt.split()) >= 4, (
            f"{path.name}: cell {i + 1} draws a plot; describe it in the cell metadata "
            '{"mystnb": {"image": {"alt": "..."}}} (a sentence, not a file name)'
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_outputs_say_when_and_where_they_were_made(path):
    """make execute records the date, torch, device, CPU capability, threads and run
    time in the notebook's metadata; the chapter's page shows them."""
    record = load(path)["metadata"].get("torchprimer", {})
    keys = {"executed", "torch", "device", "cpu_capability", "threads", "seconds"}
    assert keys <= set(record), (
        f"{path.name}: no record of its run in the metadata; run `make execute "
        f"NB={path.name[:2]}`"
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", record["executed"]), record
