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

run: install
	$(BIN)/workflow db upgrade
	$(BIN)/workflow demo
	@echo
	@echo "Try:  $(BIN)/workflow credentials list"
	@echo "      $(BIN)/workflow credentials show 1"
	@echo "      $(BIN)/workflow definitions show microcredential"

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
