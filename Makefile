# Two commands do everything on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
E2E_STAMP := tests/e2e/node_modules/.installed
WEB_STAMP := admin_web/node_modules/.installed
WEB_DIST := admin_web/dist/index.html
WEB_SOURCES := $(shell find admin_web/src admin_web/public -type f 2>/dev/null) admin_web/index.html \
	admin_web/vite.config.ts admin_web/tsconfig.json admin_web/scripts/bundle-size.mjs
# The dashboard's browser tests drive Debian's Chromium (Playwright's own browser download needs the open internet).
CHROMIUM ?= /usr/bin/chromium
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test build test-unit test-integration test-e2e test-infra test-web lint audit bench install clean web

dev: $(PY_STAMP) $(WEB_DIST)  ## run Overspill locally on the embedded AWS emulator (dashboard at /)
	$(BIN)/overspill dev $(ARGS)

test: $(PY_STAMP) $(E2E_STAMP) $(WEB_DIST) $(CHROMIUM)  ## install what is needed and run every test tier
	$(BIN)/ruff check layers functions infra tests bench
	$(BIN)/bandit -c pyproject.toml -r layers functions infra -q
	npm test --prefix admin_web
	bash scripts/pytest-tiers tests/unit tests/integration tests/e2e tests/infra

# pip for linux/arm64 (no Docker; needs PyPI unless the dependencies are unchanged), then zips, sha256s and Lambda's
# size limits: see docs/deploy.md.
build: $(PY_STAMP)  ## build every Lambda artefact into build/ (reproducible zips in build/dist)
	$(BIN)/python scripts/build_lambda_assets.py $(ARGS)

test-unit: $(PY_STAMP)
	bash scripts/pytest-tiers tests/unit
test-integration: $(PY_STAMP)
	bash scripts/pytest-tiers tests/integration
test-e2e: $(PY_STAMP) $(E2E_STAMP) $(WEB_DIST) $(CHROMIUM)
	bash scripts/pytest-tiers tests/e2e
test-web: $(WEB_STAMP)  ## the dashboard's component tests (Vitest)
	npm test --prefix admin_web
test-infra: $(PY_STAMP) $(E2E_STAMP)
	bash scripts/pytest-tiers tests/infra

lint: $(PY_STAMP)
	$(BIN)/ruff check layers functions infra tests bench
	$(BIN)/bandit -c pyproject.toml -r layers functions infra -q

# Known advisories against the locked dependencies: the pins of constraints.txt (PyPI's advisories, or OSV's with
# PIP_AUDIT_VULNERABILITY_SERVICE=osv) and both npm lockfiles. Not part of `make test`: it needs those services, which
# not every machine reaches (docs/security.md, "Dependencies"). --strict: a package that could not be checked fails.
audit: $(PY_STAMP) $(WEB_STAMP) $(E2E_STAMP)  ## dependency advisories (pip-audit, npm audit); needs the network
	$(BIN)/pip-audit --strict --progress-spinner off --no-deps --disable-pip -r constraints.txt
	npm audit --prefix admin_web
	npm audit --prefix tests/e2e

bench: $(PY_STAMP)  ## measure, print, and write docs/performance.md
	$(BIN)/python -m bench

install: $(PY_STAMP) $(E2E_STAMP) $(WEB_DIST)

web: $(WEB_DIST)  ## build the dashboard into admin_web/dist (type-checks; prints the bundle size against its budget)

$(WEB_STAMP): admin_web/package.json admin_web/package-lock.json
	npm ci --prefix admin_web --no-audit --no-fund --loglevel=error
	touch $@

$(WEB_DIST): $(WEB_STAMP) $(WEB_SOURCES)
	npm run build --prefix admin_web

# Debian's chromium for the browser tests: installed when missing (as root, or through sudo).
$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'
	test -x $@

$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip==26.3'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) tests/e2e/node_modules admin_web/node_modules admin_web/dist cdk.out .overspill .pytest_cache
