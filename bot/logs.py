"""Logging that cannot leak the token, quiet third-party loggers that print request URLs, and
the one rule for naming where an error happened (`where`)."""

from __future__ import annotations

import logging
import sys
import traceback
from pathlib import Path
from typing import TextIO

from bot.config import Secret

REDACTED = "[token]"
_PACKAGE = str(Path(__file__).resolve().parent)


def where(error: BaseException) -> str:
    """Innermost frame of our own code as file:line (function): enough to debug, no data.

    Every log line about a failure says the exception type and this, never the message text,
    health data or the token.
    """
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if f.filename.startswith(_PACKAGE)
    ]
    if not frames:
        return "outside bot/"
    frame = frames[-1]
    return f"{Path(frame.filename).relative_to(_PACKAGE)}:{frame.lineno} ({frame.name})"


class RedactTokenFilter(logging.Filter):
    """Replaces the token wherever it would appear: message, arguments or formatted traceback.

    Defence in depth: httpx and PTB build URLs that contain the token (https://.../bot<token>/...),
    and an exception message can carry such a URL.
    """

    def __init__(self, token: Secret) -> None:
        super().__init__()
        self._token = token.reveal()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._token:
            return True
        message = record.getMessage()
        if self._token in message:
            record.msg, record.args = message.replace(self._token, REDACTED), None
        if record.exc_info:
            # Format once, redact, and drop exc_info so no handler re-formats the raw text.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = text.replace(self._token, REDACTED)
            record.exc_info = None
        elif record.exc_text and self._token in record.exc_text:
            record.exc_text = record.exc_text.replace(self._token, REDACTED)
        return True


def setup_logging(
    token: Secret | None, level: int = logging.INFO, stream: TextIO | None = None
) -> None:
    """Log to stderr with the token filter on the handler, so every logger's records pass it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if token is not None:
        handler.addFilter(RedactTokenFilter(token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and those URLs contain the token.
    for noisy in ("httpx", "httpcore", "apscheduler", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
