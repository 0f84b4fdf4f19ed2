# The README's two commands: `make run` and `make test`. Both set up from nothing.
SHELL := /bin/bash
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup run test test-pg test-cluster bench bench-peer bench-chain certs browser-deps lint clean

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet "uv==$(UV_VERSION)"

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-groups --python python3
	touch $@

setup: $(VENV)/.synced

# Browser tests drive Debian's Chromium with a CJK font (never a downloaded browser).
browser-deps:
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi wqy; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei; \
	  else echo "install Debian's chromium and fonts-wqy-microhei to run the browser tests"; exit 1; fi; \
	fi

run: setup
	$(PY) -m devtools.run

test: setup browser-deps
	$(PY) -m pytest

test-pg: setup browser-deps
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(PY) -m pytest

# Two replicas of each provider behind round-robin proxies on PostgreSQL (and Redis when
# TEST_REDIS_URL is set): tests/cluster. `make test` runs them too when TEST_DATABASE_URL is set.
test-cluster: setup
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} $(PY) -m pytest tests/cluster

bench: setup
	$(PY) -m devtools.bench

# gdzwfw_idp beside node-oidc-provider (../shared/bench-peer), same load, ratios from one run.
bench-peer: setup
	$(PY) -m devtools.bench_peer

# The refund API behind the whole chain (p99), storage per login and per token.
bench-chain: setup
	$(PY) -m devtools.bench_chain

# The test CA hierarchy, demo certificates (PIN 123456) and licence-authority key under var/certs.
certs: setup
	$(PY) -m devtools.certs

clean:
	rm -rf var test-artifacts .pytest_cache

lint: setup
	$(VENV)/bin/ruff check shared services devtools tests
	$(VENV)/bin/ruff format --check shared services devtools tests
