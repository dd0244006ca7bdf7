# PSP Exchange. `make up` runs the whole system; `make test` installs and runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
WEB := gateway/web

.PHONY: up test lint bench install install-dev assets clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[embedded,assets]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.runtime

# The browser files the gateway serves, copied out of npm packages, and our stylesheet compiled
# from styles/ (Node is in the venv).
$(WEB)/static/vendor: $(WEB)/package-lock.json $(WEB)/build.py $(wildcard $(WEB)/styles/*.scss) | $(VENV)/.runtime
	$(BIN)/npm ci --prefix $(WEB) --no-audit --no-fund
	$(BIN)/python -m gateway.web.build
	touch $@

assets: $(WEB)/static/vendor
install: $(VENV)/.runtime assets
install-dev: $(VENV)/.dev assets

up: install
	$(BIN)/pspx up

test: install-dev
	$(BIN)/pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy pspx services stack gateway bench tests

bench: install-dev
	$(BIN)/python -m bench.quality
	$(BIN)/python -m bench.speed
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.imports
	$(BIN)/python -m bench.faults
	$(BIN)/python -m bench.gateway

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache $(WEB)/node_modules $(WEB)/static/vendor
