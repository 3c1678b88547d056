# Chipao: two commands for a new machine.
#   make demo   set everything up, build the national demo dataset, serve maps on :8000
#   make test   set everything up, run ruff, mypy and the whole test suite (browser included)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_PROVINCES ?= all
DEMO_ROUNDS ?= 2561,2562
DEMO_WORKERS ?= 1

.PHONY: setup demo test lint browser clean

$(BIN)/chipao: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/chipao

setup: $(BIN)/chipao

# Debian's chromium for the browser tests (no browser download: the network is closed).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; fi; }

demo: setup
	$(BIN)/chipao demo --provinces $(DEMO_PROVINCES) --rounds $(DEMO_ROUNDS) --workers $(DEMO_WORKERS)

lint: setup
	$(BIN)/ruff check service tests boundaries
	$(BIN)/mypy service

test: setup browser lint
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache
