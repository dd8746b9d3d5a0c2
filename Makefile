# Two entry points for a fresh machine (see README):
#   make site   set up, measure this machine's default line-up, render, build the HTML
#   make test   set up and run the whole test suite (what .ci/run calls)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The versions this project is developed against; pip takes them from local disk
# here. Override on other machines, e.g. make site TORCH_SPEC="torch torchvision".
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
MEASURE_ARGS ?=

.PHONY: setup setup-render site measure render build serve test lint browser-deps slurm-deps clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e '.[measure,render,timm,fleet,dev]'
	touch $@

setup: $(BIN)/.installed

# Only what a site rebuild needs: no torch (used by the Pages workflow).
setup-render:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[render]'

measure: setup
	$(BIN)/python -m generator measure $(MEASURE_ARGS)

render: setup
	$(BIN)/python -m generator render

build: render
	$(BIN)/python -m generator build
	@echo "Site built: open build/site/index.html, or run 'make serve' for http://127.0.0.1:8000"

site: measure build

serve: setup
	$(BIN)/python -m generator serve

# Debian's Chromium for the browser test; the test must run, not skip, in CI.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

# Lint and format check, and types (every function typed): configured in pyproject.toml.
lint: setup
	$(BIN)/ruff check generator
	$(BIN)/ruff format --check generator
	$(BIN)/mypy

# Debian's Slurm and munge for the one-node cluster of tests/test_slurm.py (the
# test starts and stops the daemons itself); it must run, not skip, in CI.
slurm-deps:
	@command -v slurmctld >/dev/null 2>&1 && command -v slurmd >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null; fi; }

test: setup browser-deps slurm-deps lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) build .pytest_cache .mypy_cache .ruff_cache
