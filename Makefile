# Two commands on a fresh machine: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# npm ci writes this file; reinstall when the lockfile changes.
NODE_MODULES := contracts/node_modules/.package-lock.json
WEB_MODULES := app/web/node_modules/.package-lock.json

.PHONY: run test lint typecheck pytest clean contracts node-deps system-packages

# (Re)install when pyproject.toml changes; the stamp file records the last install.
$(INSTALLED): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
		{ echo "Python >= 3.11 is required ($(PYTHON) is $$($(PYTHON) --version))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# contracts/: the pinned solc, OpenZeppelin Contracts and Anvil (the tests run a real node).
$(NODE_MODULES): contracts/package.json contracts/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js >= 20 and npm are required for contracts/"; exit 1; }
	cd contracts && npm ci --no-audit --no-fund
	touch $@

# app/web/: Chart.js for the dashboard, served by the service from node_modules (works offline).
$(WEB_MODULES): app/web/package.json app/web/package-lock.json
	@command -v npm >/dev/null || { echo "Node.js >= 20 and npm are required for app/web/"; exit 1; }
	cd app/web && npm ci --no-audit --no-fund
	touch $@

node-deps: $(NODE_MODULES) $(WEB_MODULES)

# Debian packages, installed when missing: Chromium (the dashboard's browser tests), IPAGothic
# (Japanese text in screenshots and in the Japanese PDF report), Pango (WeasyPrint renders the
# PDF reports) and poppler-utils (the report tests read PDFs back with pdftotext and pdftoppm).
SYSTEM_PACKAGES := chromium fonts-ipafont-gothic libpango-1.0-0 libpangoft2-1.0-0 poppler-utils
system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	test -z "$$missing" || { \
		SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
		$$SUDO apt-get install -y --no-install-recommends $$missing || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $$missing; }; }

# Compiles each contract of contracts/build.mjs (ImpactRegistry, PersonalInfo, GreenBondToken,
# HoldingsReader, CarbonCredit) into contracts/artifacts/<Name>.json (committed).
contracts: node-deps
	node contracts/build.mjs

# The service, its local chain and the simulated demo fleet (simulator/demo.py); `gbt-server`
# alone runs just the service.
run: $(INSTALLED) node-deps
	$(BIN)/gbt-demo

test: lint typecheck pytest

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(INSTALLED)
	$(BIN)/mypy app simulator

# The suite on pytest-xdist workers: most tests wait on Anvil, PostgreSQL, a browser or a
# subprocess, so more workers than cores pay (docs/performance.md, "Test suite"). loadgroup keeps
# the tests of a module with module-scoped fixtures on one worker (tests/conftest.py).
# PYTEST_WORKERS=0 runs it in this one process.
PYTEST_WORKERS ?= 3
pytest: $(INSTALLED) node-deps system-packages
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache contracts/node_modules app/web/node_modules \
		test-artifacts
