# Two commands on a fresh machine: `make run` and `make test`.
# Each installs what it needs into .venv on first use, exactly the versions pinned in uv.lock, and
# again when pyproject.toml or uv.lock changes. `make run` installs only what running needs;
# `make test` adds the development extras on top. The installer is uv, itself installed from PyPI
# into .tools/ the first time (pip from $(PYTHON) does that).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
TOOLS := .tools/uv-$(UV_VERSION)
UV := $(TOOLS)/bin/uv
RUN_STAMP := $(VENV)/.synced-run
DEV_STAMP := $(VENV)/.synced-dev

# uv uses this Python and this folder whatever the caller's environment says, never downloads a
# Python build of its own, and trusts the system's certificates as pip and git do (a proxy's own
# CA, for one, is there, not in uv's built-in list).
export UV_PROJECT_ENVIRONMENT := $(VENV)
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_SYSTEM_CERTS := 1
unexport VIRTUAL_ENV
SYNC := $(UV) sync --locked
SYNC_FAILED := { echo "Install failed. If uv.lock is out of date (pyproject.toml changed): make lock"; exit 1; }

.PHONY: run sandbox install test lint lint-deploy faults bench lock lock-upgrade clean

$(UV):
	@echo "Installing uv $(UV_VERSION), the installer, into $(TOOLS) (once)..."
	@# pip of $(PYTHON) if it has one, else the pip of a throwaway venv (Debian's split python3).
	@if $(PYTHON) -m pip --version >/dev/null 2>&1; then pip="$(PYTHON) -m pip"; \
	else $(PYTHON) -m venv .tools/pip-venv && pip=.tools/pip-venv/bin/pip; fi; \
	$$pip install --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
		--upgrade --target $(TOOLS) uv==$(UV_VERSION)

$(RUN_STAMP): pyproject.toml uv.lock | $(UV)
	@echo "Installing what running needs into $(VENV), as pinned in uv.lock..."
	@rm -f $(DEV_STAMP)  # an exact sync: the development extras go, until `make test`
	@$(SYNC) || $(SYNC_FAILED)
	@touch $@

# The development extras on top: what is already installed stays, only the difference is added.
$(DEV_STAMP): pyproject.toml uv.lock | $(UV)
	@echo "Installing what running and testing need into $(VENV), as pinned in uv.lock..."
	@$(SYNC) --extra dev || $(SYNC_FAILED)
	@touch $@ $(RUN_STAMP)

# With TELEGRAM_BOT_TOKEN: the real bot. Without: the offline sandbox chat in this terminal.
run: $(RUN_STAMP)
	@if [ -n "$$TELEGRAM_BOT_TOKEN" ]; then exec $(BIN)/twitch-coach run; \
	else exec $(BIN)/twitch-coach sandbox; fi

sandbox: $(RUN_STAMP)
	@exec $(BIN)/twitch-coach sandbox

# For a server (README "Deploy", systemd): what `make run` installs, without running it, and
# compiled ahead, since the service may not write next to the code.
install: | $(UV)
	@rm -f $(DEV_STAMP)
	$(SYNC) --compile-bytecode
	@touch $(RUN_STAMP)

test: $(DEV_STAMP)
	$(BIN)/ruff check bot tests bench
	$(BIN)/python -m pytest -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check bot tests bench

# systemd-analyze verify for the units (if installed) and hadolint (from PyPI) for the Dockerfile.
lint-deploy:
	@sh deploy/lint.sh

# Fault-injection suite, slow trials included (kill -9 x50, Telegram faults, fuzzing, disk, privacy).
faults: $(DEV_STAMP)
	$(BIN)/python -m pytest -q -m "slow or not slow" tests/faults

# Benchmarks vs stock alternatives; prints one table (takes a few minutes).
bench: $(DEV_STAMP)
	$(BIN)/python -m bench.run

# After editing the dependencies in pyproject.toml: pin them in uv.lock (commit both files).
# Pins already in the lock are kept where they still fit; lock-upgrade moves all to the newest.
lock: | $(UV)
	$(UV) lock

lock-upgrade: | $(UV)
	$(UV) lock --upgrade

# Everything make created in this folder. uv's download cache (~/.cache/uv) is shared and kept;
# the sandbox's chats (sandbox-data/, sandbox-files/) are yours and kept.
clean:
	rm -rf $(VENV) .tools .venv-lint .pytest_cache .ruff_cache .hypothesis *.egg-info
	find bot tests bench -name __pycache__ -type d -prune -exec rm -rf {} +
