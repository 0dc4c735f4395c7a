"""Fault-injection suite: shared fixtures, a privacy log capture and the figures summary.

`make faults` runs everything here (`-m slow` included); `make test` runs the quick subset.
Every log record of the suite is captured twice into `CAPTURE`: raw, as the bot's code made it
(before any redaction), and as production's own handler writes it (`bot.logs.setup_logging`,
token filter included). test_zz_privacy.py (collected last) checks the production output and the
stderr of every bot process for the token, and all of it, raw included, for any note text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Secret
from bot.logs import setup_logging
from tests.e2e.conftest import harness, loopback  # noqa: F401  (fixtures for this folder)
from tests.e2e.harness import TOKEN


class Capture:
    """What the suite leaves behind for the privacy check."""

    def __init__(self) -> None:
        self.stream = io.StringIO()  # what production's handler writes (its stderr)
        self.raw = io.StringIO()  # every record in full, traceback included, before redaction
        self.records: list[logging.LogRecord] = []
        self.subprocess_logs: list[str] = []  # stderr of `python -m bot run` subprocesses
        self.secrets: set[str] = set()  # note texts and other words that must never be logged
        self.data_dirs: list[Path] = []  # checked for owner-only modes

    def printed(self) -> str:
        """Everything the bot printed: production's handler output and every bot's stderr."""
        return self.stream.getvalue() + "\n".join(self.subprocess_logs)


CAPTURE = Capture()
FIGURES: dict[str, Any] = {}  # name -> figure, printed at the end of the run


class _RawHandler(logging.Handler):
    """Runs before production's handler, whose token filter rewrites the record in place."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        CAPTURE.records.append(record)
        CAPTURE.raw.write(self.format(record) + "\n")


QUIETED = ("httpx", "httpcore", "apscheduler", "aiohttp.access")


@pytest.fixture(scope="session", autouse=True)
def privacy_capture() -> Iterator[Capture]:
    """Production's own logging setup (bot.logs.setup_logging) for the whole suite, writing to
    CAPTURE.stream, with a raw capture in front of it."""
    root = logging.getLogger()
    old_handlers, old_level = list(root.handlers), root.level
    old_levels = {name: logging.getLogger(name).level for name in QUIETED}
    setup_logging(Secret(TOKEN), stream=CAPTURE.stream)
    production = root.handlers[0]
    root.handlers[:] = [_RawHandler(), production, *old_handlers]  # pytest's capture stays
    try:
        yield CAPTURE
    finally:
        root.handlers[:] = old_handlers
        root.setLevel(old_level)
        for name, level in old_levels.items():
            logging.getLogger(name).setLevel(level)


def failed_lines(since: int = 0) -> list[str]:
    """Error-handler lines ("update N failed: ...") logged since record number `since`."""
    return [
        r.getMessage()
        for r in CAPTURE.records[since:]
        if r.name == "bot.errors" and "failed:" in r.getMessage()
    ]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section("fault-injection figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
