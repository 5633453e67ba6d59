# The two set-up commands of the README: `make demo` and `make test`. Each creates the
# virtualenv and installs on first use (and again whenever pyproject.toml changes).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo serve test lint format install bench clean browser

# yahoo/alpaca/reddit/llm: the vendor SDKs, installed for the tests (the data sources' fakes stand
# at the SDK boundary and raise the SDKs' own exceptions); users install only the extra they use.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,redis,yahoo,alpaca,reddit,llm]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/alphawire demo

serve: $(STAMP)
	$(BIN)/alphawire serve

lint: $(STAMP)
	$(BIN)/ruff check src tests $(wildcard bench)
	$(BIN)/ruff format --check src tests $(wildcard bench)
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format src tests $(wildcard bench)
	$(BIN)/ruff check --fix src tests $(wildcard bench)

test: $(STAMP) lint browser
	$(BIN)/python -m pytest

# The dashboard's browser tests drive Debian's chromium; install it when missing (CI machines
# are fresh and run as root). Playwright never downloads a browser here.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# The side-by-side benchmark (docs/performance.md): installs the peers, runs every scenario,
# and rewrites the results section of docs/performance.md.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,redis,yahoo,alpaca,reddit,bench]'
	$(BIN)/python -m bench --update-docs
