# Two commands for a fresh machine (Python 3.11, no Docker):
#   make demo   set up and run the main job on the embedded default stack
#   make test   set up, lint (ruff, mypy) and run the tests
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# A prebuilt llama-cpp-python wheel skips a ~17-minute source build when this cache exists.
WHEELS := $(wildcard ../shared/wheels)
FIND_LINKS := $(if $(WHEELS),--find-links $(WHEELS),)

.PHONY: demo test lint install clean

$(BIN)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found (set PYTHON=...)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(FIND_LINKS) -e '.[devstack,test,train]'
	@# an editable install compiles no bytecode for the project (pip does for a wheel): without it
	@# every command compiles Veil's modules again where PYTHONDONTWRITEBYTECODE is set
	$(BIN)/python -m compileall -q veil models schemas streams training ops
	@touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/veil demo

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/veil models fetch smollm2-135m en-core-web-sm
	$(BIN)/pytest

clean:
	rm -rf $(VENV) .veil .pytest_cache .hypothesis
