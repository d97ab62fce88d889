# make demo | make test | make dev  — each creates/updates .venv first (needs python3 3.11+ and make).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test dev install bench clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

# the demo and its UI: demo.yaml's three embedded stores (AOV_MANIFEST=... for another manifest)
DEMO_MANIFEST := $(or $(AOV_MANIFEST),$(CURDIR)/demo.yaml)

demo: install
	AOV_MANIFEST=$(DEMO_MANIFEST) $(BIN)/aov demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	VIRTUAL_ENV=$(abspath $(VENV)) $(BIN)/dg check defs
	$(BIN)/python -m pytest

dev: install
	AOV_MANIFEST=$(DEMO_MANIFEST) $(BIN)/aov dev

bench: install
	$(BIN)/python bench/pipeline.py

clean:
	rm -rf data .pytest_cache
