# The chore marketplace platform. `make help` lists the targets.
# Everything runs from the project's own .venv, created by `make install` (needs only python3).

SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
# uv from PATH, else a private copy in .uv/ (installed with pip into its own venv: no root, no --user)
UV ?= $(shell command -v uv 2>/dev/null || echo .uv/bin/uv)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
REPLICAS ?= 1
DATABASE ?= sqlite
OBSERVE ?=

.PHONY: help install run demo test test-sqlite fuzz lowest lint typecheck fmt bench asyncapi asyncapi-check k8s-validate clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(UV):
	@echo "==> installing uv with pip into .uv/"
	@$(PYTHON) -m venv .uv && .uv/bin/pip install --quiet uv

$(STAMP): pyproject.toml uv.lock $(wildcard libs/*/pyproject.toml services/*/pyproject.toml) | $(UV)
	@echo "==> installing the workspace into $(VENV) (uv sync --frozen)"
	@$(UV) sync --frozen --all-packages --quiet
	@touch $(STAMP)

install: $(STAMP) ## Create .venv with every package from uv.lock (installs uv first if missing)

# OBSERVE=1 (or true/yes) adds Prometheus: the `prometheus` on PATH (Debian's package).
run: install ## Start the whole platform (NATS + SQLite under ./var/); REPLICAS=2, DATABASE=postgres, GATEWAY_PORT=8080, OBSERVE=1
	@$(BIN)/python tools/stack.py --replicas $(REPLICAS) --database $(DATABASE) $(if $(filter 1 true yes,$(OBSERVE)),--observe)

# GATEWAY_PORT (like every <SERVICE>_PORT) reaches tools/stack.py through the environment:
# make exports variables given on its command line, so `make run GATEWAY_PORT=9080` works too.
demo: install ## Play a marketplace day through the gateway of a running `make run` (GATEWAY_URL overrides)
	@$(BIN)/python tools/demo.py

test: install ## Run the whole test suite (PostgreSQL when 127.0.0.1:5432 answers, else SQLite)
	@$(BIN)/pytest $(PYTEST_ARGS)

test-sqlite: install ## Run the storage-facing and system tests on SQLite
	@CHORE_TEST_DB=sqlite $(BIN)/pytest -m "db or system" $(PYTEST_ARGS)

# CI runs the same test with its short default budget (15 s a document) in `make test`.
FUZZ_SECONDS ?= 120
fuzz: install ## Schemathesis on each service's OpenAPI through the gateway for FUZZ_SECONDS each (default 120): 0 5xx
	@FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/pytest tests/system/test_fuzz.py -s $(PYTEST_ARGS)

lowest: install ## Unit tests on the lowest dependency versions the bounds allow (uv lowest-direct), in a scratch copy
	@UV=$(UV) bash tools/lowest.sh

lint: install ## ruff (style, bugs, security) and import-linter (architecture rules)
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .
	@$(BIN)/lint-imports --no-cache

typecheck: install ## mypy, strict on libs/common and on domain code
	@$(BIN)/mypy libs/common/src $(wildcard services/*/src) $(wildcard examples/*/*.py)

fmt: install ## Format and auto-fix with ruff
	@$(BIN)/ruff format .
	@$(BIN)/ruff check --fix .

# The report is written even when a figure missed its target (the bench's exit code is kept).
bench: install ## Measure figures vs raw ceilings; writes bench/results/latest.json, then docs/performance.md
	@$(BIN)/python -m bench; status=$$?; $(BIN)/python -m bench.report || exit 1; exit $$status

# Offline: no cluster, no Docker engine. kubectl (for `kubectl kustomize`) must be on PATH.
K8S_VERSION ?= 1.32.0
k8s-validate: install ## Render every overlay, validate it (Kubernetes schemas, hadolint, compose spec) and run the deploy policy tests
	@command -v kubectl >/dev/null || { echo "k8s-validate: kubectl is not on PATH"; exit 1; }
	@set -e; out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	for overlay in deploy/k8s/overlays/*/; do \
	  name=$$(basename $$overlay); \
	  kubectl kustomize $$overlay > $$out/$$name.yaml; \
	  $(BIN)/kubernetes-validate --strict --quiet -k $(K8S_VERSION) $$out/$$name.yaml; \
	  echo "  $$name: $$(grep -c '^kind:' $$out/$$name.yaml) objects valid against Kubernetes $(K8S_VERSION) (strict)"; \
	done
	@$(BIN)/hadolint deploy/docker/Dockerfile* && echo "  hadolint: deploy/docker/Dockerfile* clean"
	@$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml
	@$(BIN)/pytest -q tests/deploy -m "not slow" $(PYTEST_ARGS)

clean: ## Remove the venv, caches and local state under ./var/
	rm -rf $(VENV) .uv var .pytest_cache .mypy_cache .ruff_cache bench/results/latest.json
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

asyncapi: install ## Regenerate docs/asyncapi.yaml from chore_common.contracts
	@$(BIN)/python -m chore_common.contracts.asyncapi --write docs/asyncapi.yaml

asyncapi-check: install ## Fail when docs/asyncapi.yaml is stale
	@$(BIN)/python -m chore_common.contracts.asyncapi --check docs/asyncapi.yaml
