# Two commands for a new user: `make run` (the hub on this machine) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# A pyenv shim named python3.13 may exist without working, so prefer a real interpreter path.
PYTHON313 ?= $(firstword $(wildcard /root/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13) python3.13)
VENV := .venv
SAM_VENV := .venv-sam
PY := $(VENV)/bin/python
SAM := SAM_CLI_TELEMETRY=0 PATH="$(CURDIR)/$(VENV)/bin:$(CURDIR)/$(SAM_VENV)/bin:$$PATH" sam
# loadfile: a file's tests share one worker, so a module-scoped local stack never overlaps another file's moto.
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: help setup run test lint typecheck lint-imports sam-validate sam-build pytest bench openapi lock clean

help:
	@echo "make run    set up and run the hub locally (moto, Salesforce emulator, gateway on 127.0.0.1:3000)"
	@echo "make test   set up and run lint, type checks, sam validate/build and the whole test suite"
	@echo "make bench  run the benchmarks; make openapi  rewrite docs/openapi.json"

$(VENV)/.installed: requirements-dev.txt constraints.txt layers/sync_core/requirements.txt layers/salesforce/requirements.txt
	test -x $(PY) || $(PYTHON313) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip==26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	touch $@

$(SAM_VENV)/.installed: requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || $(PYTHON313) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $@

setup: $(VENV)/.installed $(SAM_VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m local

test: setup lint typecheck lint-imports sam-validate sam-build pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy layers/sync_core/sync_core functions local tools benchmarks

lint-imports: $(VENV)/.installed
	PYTHONPATH=layers/sync_core:. $(VENV)/bin/lint-imports

sam-validate: $(SAM_VENV)/.installed
	$(SAM) validate --lint

sam-build: setup
	$(SAM) build --parallel --cached

# pytest exits 5 when it collects nothing: not a failure, but say so.
pytest: $(VENV)/.installed
	$(PY) -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests were collected"; exit 0; fi; exit $$status

bench: $(VENV)/.installed
	PYTHONPATH=layers/sync_core:. $(PY) -m benchmarks

openapi: $(VENV)/.installed
	PYTHONPATH=layers/sync_core:. $(PY) -m tools.openapi --write

lock: $(VENV)/.installed
	$(PY) -m pip freeze --exclude-editable | grep -v '^pip==' > constraints.txt

clean:
	rm -rf .aws-sam .pytest_cache .mypy_cache .ruff_cache
