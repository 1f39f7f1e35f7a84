# Two commands on a fresh machine (Python 3.11+ and make): `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SERVICES := survey projects finance smart-community webhooks
EDITABLES := -e libs/common[embedded] $(foreach s,$(SERVICES),-e services/$(s))
PYTEST_ARGS ?=

.PHONY: help install run test lint typecheck unit token up bench clean

help:
	@echo "make run      - embedded (or configured) Postgres + NATS, migrations, all five services [REPLICAS=2]"
	@echo "make test     - isolated stack, lint, type checks, architecture contracts, the whole test suite"
	@echo "make token ROLE=district_admin DISTRICT=510105 [STREET= COMMUNITY= HOUSEHOLD= SUB=]"
	@echo "make bench    - benchmarks (long; BENCH_ARGS=--quick for a short pass); table in docs/benchmarks.md"

$(STAMP): constraints.txt requirements-dev.txt libs/common/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	PIP_CONSTRAINT=$(CURDIR)/constraints.txt $(PY) -m pip install --quiet -c constraints.txt -r requirements-dev.txt $(EDITABLES)
	touch $(STAMP)

install: $(STAMP)

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

test: lint
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
