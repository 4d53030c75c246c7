"""Root pytest configuration: the same environment as `make test`, so that a plain
`pytest` starts its notebook kernels (nbval, papermill) exactly like the Makefile
does."""

import os

# nbval compares the chapters' stored outputs; the exercise notebooks have none and are
# run by tests/exercises/ instead, in both directions.
collect_ignore_glob = ["notebooks/exercises/*"]

# The reference thread count, unless the caller chose one (the foreign-platform pass
# runs with OMP_NUM_THREADS=1).
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Tracebacks name "<IPY-INPUT>" instead of a /tmp/ipykernel_<pid>/ path.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
os.environ["PYTHONHASHSEED"] = "0"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")


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
