# Two commands on a fresh machine (Python 3.11+ and make): `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVICES := survey projects finance smart-community webhooks
EDITABLES := -e libs/common[embedded] $(foreach s,$(SERVICES),-e services/$(s))
PYTEST_ARGS ?=

.PHONY: help install chromium run test lint typecheck unit token up bench clean

help:
	@echo "make run      - embedded (or configured) Postgres + NATS, migrations, all five services [REPLICAS=2]"
	@echo "make test     - isolated stack, lint, type checks, architecture contracts, the whole test suite"
	@echo "make chromium - headless Chromium and a CJK font for tests/charts (apt; skipped when installed)"
	@echo "make token ROLE=district_admin DISTRICT=510105 [STREET= COMMUNITY= HOUSEHOLD= SUB=]"
	@echo "make bench    - benchmarks (long; BENCH_ARGS=--quick for a short pass); table in docs/benchmarks.md"

$(STAMP): constraints.txt requirements-dev.txt libs/common/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install --quiet -c constraints.txt -r requirements-dev.txt $(EDITABLES)
	touch $(STAMP)

install: $(STAMP)

# tests/charts renders the services' SVG charts in headless Chromium with a CJK font of the charts' font stack
# (Debian packages; nothing to do when both are there; root or sudo for apt-get)
CHROMIUM_PACKAGES := chromium fonts-wqy-microhei
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
chromium:
	@if [ -x /usr/bin/chromium ] && fc-list :lang=zh family | grep -q .; then \
		echo "chromium: $$(/usr/bin/chromium --version 2>/dev/null) with a CJK font, nothing to install"; \
	else \
		$(SUDO) apt-get install -y --no-install-recommends $(CHROMIUM_PACKAGES) \
		|| { $(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $(CHROMIUM_PACKAGES); }; \
	fi

run: $(STAMP)
	$(PY) -m renovation_common.devstack run --replicas $(or $(REPLICAS),1)

up: $(STAMP)
	$(PY) -m renovation_common.devstack up

lint: $(STAMP)
	$(VENV)/bin/ruff check libs services tests bench
	$(VENV)/bin/ruff format --check libs services tests bench
	$(VENV)/bin/lint-imports
	$(PY) -m mypy
	if [ -f deploy/validate.py ]; then $(PY) deploy/validate.py; fi

test: lint chromium
	$(PY) -m renovation_common.devstack test -- $(PYTEST_ARGS)

unit: $(STAMP)
	$(PY) -m pytest -m "not integration" $(PYTEST_ARGS)

token: $(STAMP)
	@$(PY) -m renovation_common.devstack token --role $(or $(ROLE),district_admin) \
		$(if $(SUB),--sub $(SUB)) $(if $(DISTRICT),--district $(DISTRICT)) $(if $(STREET),--street $(STREET)) \
		$(if $(COMMUNITY),--community $(COMMUNITY)) $(if $(HOUSEHOLD),--household $(HOUSEHOLD))

bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
