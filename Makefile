# Two commands on a fresh machine: `make run` and `make test`.
# Each creates .venv and installs what it needs on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint faults bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	@$(BIN)/twitch-coach run

test: $(STAMP)
	$(BIN)/ruff check bot tests
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench.bench_schedule

lint: $(STAMP)
	$(BIN)/ruff check bot tests

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
