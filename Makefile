# make demo — set up and run the main job (the diagnosis on the built-in lab)
# make test — set up and run every check: ruff, mypy and pytest
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest screenshots schema docs clean

# A fresh machine's first `make demo` or `make test` installs for about a minute: each step says what it
# does before it starts, and pip shows its own progress, so nobody stares at a silent terminal.
$(BIN)/python:
	@echo "make: creating $(VENV) ($(PYTHON) -m venv $(VENV)) ..."
	@$(PYTHON) -m venv $(VENV)

# Reinstall when the project's dependencies change.
$(STAMP): pyproject.toml | $(BIN)/python
	@echo "make: updating pip in $(VENV) ..."
	@$(BIN)/python -m pip install --upgrade pip
	@echo "make: installing maildoctor and its test tools into $(VENV) (pip, ~1 min) ..."
	@$(BIN)/python -m pip install -e '.[test]'
	@touch $(STAMP)
	@echo "make: $(VENV) is ready"

demo: $(STAMP)
	$(BIN)/maildoctor demo

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check maildoctor tests scripts bench
	$(BIN)/ruff format --check maildoctor tests scripts bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Two workers (the machines have two cores; most of a test's time is waiting on real protocols). A file's
# tests stay in one worker: some of them check what the file's other tests did (every scenario walked).
pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

screenshots: $(STAMP)
	$(BIN)/python scripts/screenshots.py

schema: $(STAMP)
	$(BIN)/python -m maildoctor.flow.schema > flows/flow.schema.json

docs: $(STAMP)
	$(BIN)/python -m maildoctor.checks.reference > docs/checks.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
