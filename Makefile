# Two commands do all the set-up on a fresh clone: `make serve` and `make test`.
# Each creates .venv and installs the pinned dependencies on first use, and again when pyproject.toml or the
# engine's C kernel changes (the install compiles it in place: a C compiler and the Python headers are needed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint bench clean route-table

$(STAMP): pyproject.toml src/framecast/engines/_kernels.c
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "framecast needs Python 3.11+"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: $(STAMP)
	$(BIN)/framecast serve

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/quality.py

clean:
	rm -rf $(VENV) framecast-data .pytest_cache .mypy_cache .ruff_cache build src/framecast/engines/*.so

# Rebuild the route x status table of docs/api/README.md from what the test suite exercises.
route-table: $(STAMP)
	FRAMECAST_ROUTE_TABLE=.route-table.md $(BIN)/pytest -q
	$(BIN)/python -c "import re,pathlib; p=pathlib.Path('docs/api/README.md'); t=p.read_text(); \
	head=t.split('| dialect | method |')[0]; p.write_text(head + pathlib.Path('.route-table.md').read_text())"
	rm -f .route-table.md
