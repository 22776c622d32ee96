# Two commands do everything on a fresh machine: `make dev` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
E2E_STAMP := tests/e2e/node_modules/.installed
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: dev test build test-unit test-integration test-e2e test-infra lint bench install clean

dev: $(PY_STAMP)  ## run Overspill locally on the embedded AWS emulator
	$(BIN)/overspill dev $(ARGS)

test: $(PY_STAMP) $(E2E_STAMP)  ## install what is needed and run every test tier
	$(BIN)/ruff check layers functions infra tests bench
	bash scripts/pytest-tiers tests/unit tests/integration tests/e2e tests/infra

# pip for linux/arm64 (no Docker; needs PyPI unless the dependencies are unchanged), then zips, sha256s and Lambda's
# size limits: see docs/deploy.md.
build: $(PY_STAMP)  ## build every Lambda artefact into build/ (reproducible zips in build/dist)
	$(BIN)/python scripts/build_lambda_assets.py $(ARGS)

test-unit: $(PY_STAMP)
	bash scripts/pytest-tiers tests/unit
test-integration: $(PY_STAMP)
	bash scripts/pytest-tiers tests/integration
test-e2e: $(PY_STAMP) $(E2E_STAMP)
	bash scripts/pytest-tiers tests/e2e
test-infra: $(PY_STAMP) $(E2E_STAMP)
	bash scripts/pytest-tiers tests/infra

lint: $(PY_STAMP)
	$(BIN)/ruff check layers functions infra tests bench

bench: $(PY_STAMP)  ## measure, print, and write docs/performance.md
	$(BIN)/python -m bench

install: $(PY_STAMP) $(E2E_STAMP)

$(PY_STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade 'pip==26.3'
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

$(E2E_STAMP): tests/e2e/package.json tests/e2e/package-lock.json
	npm ci --prefix tests/e2e --no-audit --no-fund --loglevel=error
	touch $@

clean:
	rm -rf $(VENV) tests/e2e/node_modules cdk.out .overspill .pytest_cache
