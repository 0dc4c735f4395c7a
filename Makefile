# Two commands on a fresh machine: `make run` and `make test`.
# Each creates .venv and installs what it needs on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint faults bench clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run, or pyproject.toml changed)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip -e '.[dev]' \
		> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
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
