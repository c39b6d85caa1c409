# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: run test unit api e2e bench infra docs clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .   # the adminctl CLI
	touch $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(PY) -m local.run

test: $(STAMP)
	$(PY) -m local.dashboard || true
	$(PY) -m pytest -q -n 2 --dist loadfile tests

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

api: $(STAMP)
	$(PY) -m pytest -q tests/api

e2e: $(STAMP)
	$(PY) -m local.dashboard || true
	$(PY) -m pytest -q tests/e2e

bench: $(STAMP)
	$(PY) -m bench.run

infra: $(STAMP)
	$(PY) -m scripts.gen_infra

docs: $(STAMP)
	$(PY) -m scripts.gen_docs

clean:
	rm -rf $(VENV) out .local
