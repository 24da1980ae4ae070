# Every target creates or refreshes .venv from requirements.lock by itself.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

SEED ?= 42
SHOPS ?= 3
DAYS ?= 3
NOW ?=

.PHONY: venv test lint format demo airflow bench bench-smoke chaos lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	$(BIN)/python -m pytest -m "not chaos and not slow" $(PYTEST_ARGS)

demo: $(STAMP)
	SEED=$(SEED) SHOPS=$(SHOPS) DAYS=$(DAYS) NOW=$(NOW) $(BIN)/python -m lightspeed.demo

airflow: $(STAMP)
	SEED=$(SEED) SHOPS=$(SHOPS) DAYS=$(DAYS) NOW=$(NOW) $(BIN)/python -m lightspeed.demo --ui

bench: $(STAMP)
	$(BIN)/python -m bench.run

bench-smoke: $(STAMP)
	$(BIN)/python -m bench.run --smoke --jobs 2

chaos: $(STAMP)
	$(BIN)/python -m pytest tests/chaos tests/security $(PYTEST_ARGS)

lock:
	uv pip compile requirements.txt -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) .airflow .demo
	-dropdb --if-exists -h 127.0.0.1 -U postgres lightspeed_demo
	-dropdb --if-exists -h 127.0.0.1 -U postgres lightspeed_demo_airflow
