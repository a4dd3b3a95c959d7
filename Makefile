# Two commands do everything: `make run` (the service on SQLite, with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install run test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# On a laptop the service is reached over plain HTTP, so the session cookie cannot be Secure-only here.
run: install
	$(BIN)/workflow db upgrade
	$(BIN)/workflow demo
	@echo
	@echo "Serving on http://127.0.0.1:8000  (API docs: http://127.0.0.1:8000/docs after signing in; Ctrl-C stops)"
	WORKFLOW_COOKIE_SECURE=false $(BIN)/workflow serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

test: install lint
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/service_bench.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
