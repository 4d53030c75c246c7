"""Root pytest configuration: the same environment as `make test`, so that a plain
`pytest` starts its notebook kernels (nbval, papermill) exactly like the Makefile
does."""

import os

# The reference thread count, unless the caller chose one (the foreign-platform pass
# runs with OMP_NUM_THREADS=1).
os.environ.setdefault("OMP_NUM_THREADS", "2")
# Tracebacks name "<IPY-INPUT>" instead of a /tmp/ipykernel_<pid>/ path.
os.environ["IPYKERNEL_CELL_NAME"] = "<IPY-INPUT>"
os.environ["PYTHONHASHSEED"] = "0"
os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
