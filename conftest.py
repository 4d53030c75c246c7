"""Root pytest configuration: the same environment as `make test`, so that a plain
`pytest` starts its notebook kernels (nbval, papermill) exactly like the Makefile
does."""

import os

# nbval compares the chapters' stored outputs; the exercise notebooks have none and are
# run by tests/exercises/ instead, in both directions.
collect_ignore_glob = ["notebooks/exercises/*"]

# Tracebacks name "<IPY-INPUT>" instead of a /tmp/ipykernel_<pid>/ path.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
os.environ["PYTHONHASHSEED"] = "0"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


def pytest_configure(config):
    """Torch threads, unless the caller chose (make test sets 1): the reference 2 for a
    plain `pytest`, and 1 per worker under pytest-xdist's `-n`, so that the workers
    share the cores instead of fighting over them. Workers inherit the choice."""
    if "OMP_NUM_THREADS" not in os.environ:
        workers = getattr(config.option, "numprocesses", None)
        os.environ["OMP_NUM_THREADS"] = "1" if workers else "2"


# Under pytest-xdist (make test: -n 2 --dist loadfile) each file is one unit of work for
# one worker, because a notebook's cells must run in order in one kernel. The tests of
# SPLIT_FILES are independent runs of whole notebooks and are spread one by one. The
# longest units go first, so that the short ones fill the gaps at the end instead of
# one worker finishing alone: a chapter's nbval run takes about its run time in
# course.toml, its smoke run about half of that.
SPLIT_FILES = {"test_papermill_smoke.py", "test_exercises.py"}
SMOKE = "tests/notebooks/test_papermill_smoke.py::"


def _expected_seconds(nodeid: str) -> float:
    from tools.course import chapters

    for chapter in chapters():
        if nodeid.startswith(f"notebooks/{chapter.path.name}"):
            return chapter.run_time_s
        if nodeid.startswith(SMOKE) and chapter.path.name in nodeid:
            return chapter.run_time_s / 2
    if nodeid.startswith("tests/exercises/test_exercises.py"):
        return 20
    return 0


def pytest_collection_modifyitems(config, items):
    if os.environ.get("PYTEST_XDIST_WORKER"):  # the order the workers take them in
        items.sort(key=lambda item: -_expected_seconds(item.nodeid))


def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile, except that the tests of SPLIT_FILES are units of their own."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class LoadFileSplit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return nodeid if os.path.basename(path) in SPLIT_FILES else path

    return LoadFileSplit(config, log)


def pytest_terminal_summary(terminalreporter):
    """Name the devices the papermill smoke runs covered (cpu, plus cuda/mps if any)."""
    devices = set()
    for report in terminalreporter.stats.get("passed", []):
        if "test_papermill_smoke" in report.nodeid and "[" in report.nodeid:
            devices.add(report.nodeid.rsplit("-", 1)[-1].rstrip("]"))
    if devices:
        terminalreporter.write_line(
            f"papermill smoke runs passed on: {', '.join(sorted(devices))}"
        )
