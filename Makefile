# Two commands on a fresh machine: `make run` and `make test`.
# Each creates .venv and installs what it needs on first use (and again when pyproject.toml changes).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run sandbox test lint lint-deploy faults bench clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first run, or pyproject.toml changed)..."
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip -e '.[dev]' \
		> $(VENV)/install.log 2>&1 || { cat $(VENV)/install.log; exit 1; }
	@touch $(STAMP)

# With TELEGRAM_BOT_TOKEN: the real bot. Without: the offline sandbox chat in this terminal.
run: $(STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then exec $(BIN)/twitch-coach run; \
	else exec $(BIN)/twitch-coach sandbox; fi

sandbox: $(STAMP)
	@exec $(BIN)/twitch-coach sandbox

test: $(STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot tests bench

# systemd-analyze verify for the units (if installed) and hadolint (from PyPI) for the Dockerfile.
lint-deploy:
	@sh deploy/lint.sh

# Fault-injection suite, slow trials included (kill -9 x50, Telegram faults, fuzzing, disk, privacy).
faults: $(STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow" tests/faults

# Benchmarks vs stock alternatives; prints one table (takes a few minutes).
bench: $(STAMP)
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .venv-lint .pytest_cache .ruff_cache
