# torchprimer: the only way in. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON_BOOT ?= python3.11
VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.stamp-setup
DEVICE      ?= auto
NB          ?=
KERNEL_NAME := torchprimer

# Same environment for every notebook run: stable stderr names, a fixed hash seed.
# OMP_NUM_THREADS is not forced: the stored outputs hold for any thread count
# (make test-matrix proves 1, 2 and 4), so torch uses your cores. make test runs its
# workers at 1 thread each (tests/README.md says why).
export IPYKERNEL_CELL_NAME := <IPY-INPUT>
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export PYTHONHASHSEED := 0
# The repository's own tools/ package (course manifest, book runner, exporter), for
# every Python that make starts, Sphinx's site/conf.py included.
export PYTHONPATH := $(CURDIR)

NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
# NB=05 picks one chapter; it must be exactly two digits (NB=0 would match 01..09).
SELECTED  := $(if $(NB),$(sort $(wildcard notebooks/$(NB)_*.ipynb)),$(NOTEBOOKS))
PARAMS    ?=
# Static site: warnings are errors, every page rewritten (-E), so no page survives from another build.
SPHINX    := $(PY) -m sphinx -b html -W --keep-going -E -q

.PHONY: help setup data book execute lab test test-matrix clean figures site benchmark ablation exercises export
.PHONY: check-nb render

# Stops with a clear message when NB names no chapter (NB=5, NB=0, NB=99).
check-nb:
	@if [ -n "$(NB)" ] && ! [[ "$(NB)" =~ ^[0-9][0-9]$$ ]]; then \
	  echo "NB=$(NB): give a chapter number with two digits, e.g. NB=05"; exit 1; fi
	@test -n "$(SELECTED)" || { echo "NB=$(NB): no notebook notebooks/$(NB)_*.ipynb"; exit 1; }

help: ## list the targets
	@echo "torchprimer: an executable PyTorch primer"
	@echo
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 18
	@echo
	@echo "Variables: DEVICE=auto|cpu|cuda|mps (book), NB=05 (book, execute),"
	@echo "           PARAMS=\"NUM_EPOCHS=3 TRAIN_SUBSET=2000\" (book; names must be the chapter's)"

setup: $(STAMP) ## create .venv with pinned packages and register its Jupyter kernel

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || command -v $(PYTHON_BOOT) >/dev/null || { \
	  echo "make setup needs Python 3.11: install it, or point to it with PYTHON_BOOT=/path/to/python3.11"; exit 1; }
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@# a named kernel for a system Jupyter or VS Code; the venv's own JupyterLab runs its python3 kernel
	$(PY) -m ipykernel install --user --name $(KERNEL_NAME) --display-name "Python (torchprimer)" >/dev/null
	@touch $@
	@echo "setup: $(VENV) is ready"

data: $(STAMP) ## fetch and verify FashionMNIST into data/ (offline when possible)
	@$(PY) -m tools.fetch_data --root data --quiet

book: check-nb $(STAMP) data ## execute notebooks with papermill into _build/executed/, render the site (DEVICE=, NB=, PARAMS=)
	@rm -rf _build/executed && mkdir -p _build/executed
	@$(PY) -m tools.book --out _build/executed --param "DEVICE=$(DEVICE)" \
	  $(foreach p,$(PARAMS),--param "$(p)") $(SELECTED)
	@if [ -n "$(NB)" ]; then echo "book: executed $(SELECTED) into _build/executed/ (the site needs every chapter: run make book without NB)"; \
	else $(MAKE) --no-print-directory render CHAPTERS_FROM=_build/executed; fi

site: $(STAMP) ## render the static site into _build/html/ from the outputs stored in notebooks/ (no execution)
	@$(MAKE) --no-print-directory render CHAPTERS_FROM=notebooks

# The site's sources are staged in _build/src/: site/ (conf.py, pages, static files) and
# the chapters side by side in notebooks/, the figures in images/ (the notebooks' own
# ../images/ paths resolve as in the repository).
CHAPTERS_FROM ?= notebooks
render: $(STAMP)
	@rm -rf _build/src _build/html && mkdir -p _build/src/notebooks _build/src/images
	@cp -r site/. _build/src/notebooks/
	@cp $(CHAPTERS_FROM)/[0-9][0-9]_*.ipynb _build/src/notebooks/
	@$(PY) -m tools.exercises --check --site _build/src/notebooks/exercises
	@cp images/*.png images/*.gif _build/src/images/
	@$(SPHINX) -d _build/doctrees _build/src/notebooks _build/html
	@echo "site: rendered from $(CHAPTERS_FROM)/ into _build/html/ (open _build/html/index.html)"

figures: $(STAMP) ## redraw the concept figures in images/ (deterministic; commit the result)
	$(PY) images/draw_figures.py

execute: check-nb $(STAMP) data ## re-execute notebooks in place on CPU to refresh stored outputs (NB=01)
	@$(PY) -m tools.book --in-place $(SELECTED)

# The server's root is the repository (so ../images/ and ../data/ resolve from a notebook);
# it opens in notebooks/. As root (a Docker container) Jupyter needs --allow-root.
LAB_ROOT ?= .
LAB_ARGS ?=
lab: $(STAMP) data ## start JupyterLab in notebooks/ (works as root too)
	$(VENV)/bin/jupyter lab $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ServerApp.root_dir=$(LAB_ROOT) --LabApp.default_url=/lab/tree/notebooks $(LAB_ARGS)

export: $(STAMP) ## write the code the chapters teach (cells tagged export:NAME) into src/torchprimer/
	$(PY) -m tools.export

exercises: $(STAMP) ## write notebooks/exercises/NN_*_exercises.ipynb from the solutions beside them
	$(PY) -m tools.exercises

# make test shares the cores between TEST_WORKERS pytest-xdist workers, one torch thread
# each; conftest.py keeps every notebook's cells in order on one worker and starts the
# longest runs first. TEST_WORKERS=1 runs everything in one process (still one thread).
TEST_WORKERS ?= 2
XDIST        = $(if $(filter-out 0 1,$(TEST_WORKERS)),-n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder)

test: $(STAMP) data site ## run the whole harness: lint, unit tests, nbval, papermill smoke, browser tests
	OMP_NUM_THREADS=1 $(PY) -m pytest $(XDIST)
	@echo "test: nbval again on an emulated foreign CPU (generic kernels, 1 thread)"
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 $(PY) -m pytest $(XDIST) notebooks

# The 1-thread passes share the cores between TEST_WORKERS workers; the 2- and 4-thread
# passes run one notebook at a time, so that their threads have the cores to themselves.
test-matrix: $(STAMP) data ## nbval under ATEN_CPU_CAPABILITY {default, avx2} x OMP_NUM_THREADS {1, 2, 4}
	@set -e; for cap in default avx2; do for threads in 1 2 4; do \
	  echo "test-matrix: ATEN_CPU_CAPABILITY=$$cap OMP_NUM_THREADS=$$threads"; \
	  if [ $$threads = 1 ]; then xdist="$(XDIST)"; else xdist=""; fi; \
	  ATEN_CPU_CAPABILITY=$$cap OMP_NUM_THREADS=$$threads $(PY) -m pytest -q $$xdist notebooks; \
	done; done

# One run, alone on an idle machine: every figure of the README's benchmark section.
benchmark: $(STAMP) data ## measure the MLP and CNN speed-ups and the CNN record over 3 seeds (about 30 min, idle machine)
	@mkdir -p _build
	set -o pipefail; $(PY) -u benchmarks/run_all.py $(BENCHMARK_ARGS) | tee _build/benchmark.log

ablation: $(STAMP) data ## what each change of the CNN record buys: one change a row, 3 seeds, validation accuracy (about 15 min)
	@mkdir -p _build
	set -o pipefail; $(PY) -u benchmarks/train_cnn.py --ablation | tee _build/ablation.log

clean: ## remove build outputs (keeps .venv and data/)
	rm -rf _build models .pytest_cache
	find . -name __pycache__ -type d -prune -not -path './.venv/*' -exec rm -rf {} +
