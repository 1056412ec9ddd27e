# The two commands of the quick start: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install run test browser rasa-env bench lint i18n clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# The CPU build of torch first: letting pip pick torch for sentence-transformers pulls CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/imaradesk demo

test: install browser rasa-env
	$(BIN)/python -m pytest

# The browser tests use Debian's chromium; install it when we can (root with apt).
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -q chromium >/dev/null 2>&1 || \
		{ apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; } || \
		echo "chromium could not be installed: the browser tests will skip (and fail in CI)"; \
	fi

# Rasa 3.6 in its own Python 3.10 environment (.rasa-venv) for the tests marked `rasa`: Rasa
# needs Python < 3.11, so it never enters ours. About 70 s and 2.7 GB, once (a stamp file).
rasa-env:
	@scripts/rasa-env || echo "Rasa could not be set up: the tests marked rasa will skip (and fail in CI)"

# ruff (lint and format), the import-linter contracts of the architecture, mypy --strict on
# the core packages (configured in pyproject.toml).
lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/lint-imports
	$(BIN)/mypy

# The message catalogs (src/imaradesk/translations): extract every marked text (babel.cfg), merge
# it into each language's messages.po (then translate what is new: the tests refuse an empty or
# fuzzy Swahili text), and compile the .mo files that are committed beside them.
CATALOGS := src/imaradesk/translations
i18n: install
	@mkdir -p build
	$(BIN)/pybabel extract -F babel.cfg --add-location=file --sort-output \
		--project=ImaraDesk --copyright-holder="ImaraDesk contributors" -o build/messages.pot .
	$(BIN)/pybabel update -i build/messages.pot -d $(CATALOGS) --ignore-obsolete --width=100
	$(BIN)/pybabel compile -d $(CATALOGS) --statistics

bench: install
	$(BIN)/python -m bench.banking77 --data ../shared/bench/banking77

clean:
	rm -rf $(VENV) var .pytest_cache
