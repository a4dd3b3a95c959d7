# Two commands do everything: `make run` (the service on SQLite, with demo data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

CHROMIUM ?= /usr/bin/chromium
DOT ?= /usr/bin/dot
AXE := tests/web/browser/node_modules/axe-core/axe.min.js
APT := $(if $(filter 0,$(shell id -u)),,sudo) apt-get

.PHONY: install run test lint bench clean browser

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed $(DOT)

# Graphviz's dot lays out the lifecycle drawings of the credential and administration pages.
$(DOT):
	@echo "installing Debian's graphviz for the lifecycle drawings"
	$(APT) update -qq
	$(APT) install -y -qq graphviz

# The browser tests drive Debian's Chromium with Playwright (no browser download) and check pages with axe-core.
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	$(APT) update -qq
	$(APT) install -y -qq chromium

$(AXE): tests/web/browser/package.json tests/web/browser/package-lock.json
	npm ci --prefix tests/web/browser --no-audit --no-fund --loglevel=error
	touch $@

# A real OpenID Connect provider (the certified oidc-provider, run with Node) for the sign-in tests.
OIDC_PROVIDER := tests/oidc/provider/node_modules/oidc-provider/package.json
$(OIDC_PROVIDER): tests/oidc/provider/package.json tests/oidc/provider/package-lock.json
	npm ci --prefix tests/oidc/provider --no-audit --no-fund --loglevel=error
	touch $@

browser: $(CHROMIUM) $(AXE) $(OIDC_PROVIDER)

# On a laptop the service is reached over plain HTTP, so the session cookie cannot be Secure-only here.
run: install
	$(BIN)/workflow db upgrade
	$(BIN)/workflow demo
	@echo
	@echo "Serving on http://127.0.0.1:8000 — sign in with a demo login above (Ctrl-C stops)"
	WORKFLOW_COOKIE_SECURE=false $(BIN)/workflow serve

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install lint browser
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/engine_bench.py
	$(BIN)/python bench/service_bench.py

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache artifacts tests/web/browser/node_modules \
		tests/oidc/provider/node_modules
