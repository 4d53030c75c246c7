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
