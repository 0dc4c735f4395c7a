"""One versioned codec for inline-button data, which comes back from the client and is untrusted.

Format (at most 64 bytes, Telegram's limit):  ``1|<route>|<arg>|<arg>...|<sig>``

* ``1`` is the codec version: data from a future or past format is rejected as stale.
* ``route`` names the feature and action, e.g. ``ck.int`` (check-in, intensity).
* args are short tokens (letters, digits, ``_`` and ``-``).
* ``sig`` is a truncated HMAC over the user id and the rest, keyed by a secret derived from the
  bot token. A button cannot be forged or replayed by another user; handlers still check that
  anything an argument refers to (an episode id, say) belongs to the presser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

VERSION = "1"
SEP = "|"
MAX_BYTES = 64
_SIG_LEN = 8
_TOKEN = re.compile(r"^[A-Za-z0-9_.-]{1,24}$")


class BadCallback(ValueError):
    """Malformed, forged, oversized or stale callback data."""


@dataclass(frozen=True)
class Callback:
    route: str
    args: tuple[str, ...]

    def arg(self, index: int) -> str:
        try:
            return self.args[index]
        except IndexError as exc:
            raise BadCallback("missing argument") from exc

    def int_arg(self, index: int, low: int | None = None, high: int | None = None) -> int:
        """An integer argument, range-checked, or BadCallback."""
        raw = self.arg(index)
        if not raw.lstrip("-").isdigit() or len(raw) > 12:
            raise BadCallback("not an integer")
        value = int(raw)
        if (low is not None and value < low) or (high is not None and value > high):
            raise BadCallback("out of range")
        return value


class CallbackCodec:
    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"fibro-twitch-coach/callback/" + secret).digest()

    def _sign(self, user_id: int, body: str) -> str:
        mac = hmac.new(self._key, f"{user_id}{SEP}{body}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode()[:_SIG_LEN]

    def encode(self, user_id: int, route: str, *args: str | int) -> str:
        parts = [VERSION, route, *(str(a) for a in args)]
        for part in parts[1:]:
            if not _TOKEN.match(part):
                raise ValueError(f"callback token {part!r} has characters the codec does not allow")
        body = SEP.join(parts)
        data = f"{body}{SEP}{self._sign(user_id, body)}"
        if len(data.encode()) > MAX_BYTES:
            raise ValueError(f"callback data for {route} is {len(data.encode())} bytes, max 64")
        return data

    def decode(self, user_id: int, data: str | None) -> Callback:
        if not data or len(data.encode()) > MAX_BYTES:
            raise BadCallback("empty or oversized")
        parts = data.split(SEP)
        if len(parts) < 3 or parts[0] != VERSION:
            raise BadCallback("unknown format")
        body, sig = SEP.join(parts[:-1]), parts[-1]
        if not hmac.compare_digest(sig, self._sign(user_id, body)):
            raise BadCallback("bad signature")
        return Callback(route=parts[1], args=tuple(parts[2:-1]))


def route_pattern(*routes: str) -> str:
    """Regex for a CallbackQueryHandler that takes exactly these routes."""
    return rf"^{VERSION}\|(?:{'|'.join(re.escape(r) for r in routes)})\|"


def feature_pattern(feature: str) -> str:
    """Regex for a CallbackQueryHandler that takes every route of a feature (``ck.*``)."""
    return rf"^{VERSION}\|{re.escape(feature)}\."
