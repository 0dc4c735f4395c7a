"""Fault-injection suite: shared fixtures, a privacy log capture and the figures summary.

`make faults` runs everything here (`-m slow` included); `make test` runs the quick subset.
Every log record of the suite goes through production's log format and token filter into
`CAPTURE`; test_zz_privacy.py (collected last) checks it for the token and any note text.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.config import Secret
from bot.logs import RedactTokenFilter
from tests.e2e.conftest import harness, loopback  # noqa: F401  (fixtures for this folder)
from tests.e2e.harness import TOKEN


class Capture:
    """What the suite leaves behind for the privacy check."""

    def __init__(self) -> None:
        self.stream = io.StringIO()  # formatted, as production would write it
        self.records: list[logging.LogRecord] = []
        self.subprocess_logs: list[str] = []  # stderr of `python -m bot run` subprocesses
        self.secrets: set[str] = set()  # note texts and other words that must never be logged
        self.data_dirs: list[Path] = []  # checked for owner-only modes

    def text(self) -> str:
        return self.stream.getvalue() + "\n".join(self.subprocess_logs)


CAPTURE = Capture()
FIGURES: dict[str, Any] = {}  # name -> figure, printed at the end of the run


class _ListHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        CAPTURE.records.append(record)


@pytest.fixture(scope="session", autouse=True)
def privacy_capture() -> Iterator[Capture]:
    """Production's handler setup (bot/logs.py) on the root logger for the whole suite."""
    root = logging.getLogger()
    formatted = logging.StreamHandler(CAPTURE.stream)
    formatted.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    formatted.addFilter(RedactTokenFilter(Secret(TOKEN)))
    raw = _ListHandler()
    old_level = root.level
    root.addHandler(formatted)
    root.addHandler(raw)
    root.setLevel(logging.INFO)
    quiet = {name: logging.getLogger(name).level for name in ("httpx", "httpcore", "apscheduler")}
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)  # as setup_logging does
    try:
        yield CAPTURE
    finally:
        root.removeHandler(formatted)
        root.removeHandler(raw)
        root.setLevel(old_level)
        for name, level in quiet.items():
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
