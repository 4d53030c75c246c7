"""Root pytest configuration: the same environment as `make test`, so that a plain `pytest`
starts its notebook kernels (nbval, papermill) exactly like the Makefile does."""

import os

# 1 vs 2 threads changes the last digits of large float reductions that nbval compares.
os.environ["OMP_NUM_THREADS"] = "2"
# Tracebacks name "<IPY-INPUT>" instead of a /tmp/ipykernel_<pid>/ path.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
os.environ["PYTHONHASHSEED"] = "0"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
