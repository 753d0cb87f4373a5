# Educompte — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
# Mailed links and the printed demo URLs use the address actually served.
export EDUCOMPTE_PUBLIC_URL ?= http://$(HOST):$(PORT)

.PHONY: run test lint install install-dev migrate demo bench bench-signin bench-search \
        bench-import bench-letters bench-reset clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "Python 3.11 is required"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/educompte migrate --noinput

demo: migrate
	$(BIN)/educompte demo --service-origin http://$(HOST):$(PORT)

## run: install, migrate the SQLite database under var/, load the demo, serve on 127.0.0.1:8000
run: demo
	@echo "Serving Educompte on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(BIN)/educompte runserver $(HOST):$(PORT) --noreload

## test: install the development dependencies, lint, run the whole suite
test: install-dev
	$(BIN)/ruff check .
	$(BIN)/pytest

## bench: every benchmark at full size (installs and starts PostgreSQL if needed, loads a
## million pupils once); writes docs/PERFORMANCE.md. BENCH_SIZE=tiny for a quick check.
BENCH_SIZE ?= full
BENCH = $(BIN)/python -m bench.run
bench: install-dev
	$(BENCH) all --size $(BENCH_SIZE)
bench-signin: install-dev
	$(BENCH) signin --size $(BENCH_SIZE)
bench-search: install-dev
	$(BENCH) search --size $(BENCH_SIZE)
bench-import: install-dev
	$(BENCH) import --size $(BENCH_SIZE)
bench-letters: install-dev
	$(BENCH) letters --size $(BENCH_SIZE)
bench-reset: install-dev
	$(BENCH) reset --size $(BENCH_SIZE)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check . || true

clean:
	rm -rf $(VENV) var/educompte.sqlite3* .pytest_cache
