# Two commands do all the set-up on a fresh clone: `make serve` and `make test`.
# Each creates .venv and installs the pinned dependencies on first use, and again when pyproject.toml or the
# engine's C kernel changes (the install compiles it in place: a C compiler and the Python headers are needed).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint sanitize bench clean route-table

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

# The C kernels built once more with AddressSanitizer and UndefinedBehaviorSanitizer, into a copy of the
# package under build/sanitize (the installed build is untouched), and the engine tests run against it.
# Any out-of-bounds access or undefined behaviour fails the run. Needs gcc: the interpreter is not
# instrumented, so gcc's libasan is preloaded, with libstdc++ (ASan's C++-exception interceptor needs it
# loaded before OpenCV throws); leaks are not checked (CPython keeps its own). gcc brings both runtimes:
# on Debian 12, gcc-12 depends on libgcc-12-dev (libasan8, libubsan1) and on libstdc++6.
# --capture=sys leaves file descriptor 2 alone, so a sanitizer's report reaches the log when it aborts the
# run (checked once with a deliberate out-of-bounds read: ASan named the line).
SAN_CC ?= gcc
SAN_DIR := build/sanitize
SAN_FLAGS := -O2 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	-ffp-contract=off -fno-math-errno -Wall -Wextra -Werror
SAN_ENV := LD_PRELOAD="$$($(SAN_CC) -print-file-name=libasan.so) libstdc++.so.6" ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=print_stacktrace=1 PYTHONPATH=$(SAN_DIR)/src

sanitize: $(STAMP)
	rm -rf $(SAN_DIR) && mkdir -p $(SAN_DIR)/src
	cp -r src/framecast $(SAN_DIR)/src/
	rm -f $(SAN_DIR)/src/framecast/engines/_kernels*.so
	$(SAN_CC) -shared -fPIC $(SAN_FLAGS) \
		-I"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
		src/framecast/engines/_kernels.c \
		-o $(SAN_DIR)/src/framecast/engines/_kernels$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	$(SAN_ENV) $(BIN)/python -c 'from framecast.engines import _kernels as k; \
		assert "$(SAN_DIR)" in k.__file__, f"not the sanitized build: {k.__file__}"'
	$(SAN_ENV) $(BIN)/pytest -q -p no:cacheprovider --capture=sys tests/engines

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
