"""Settings from the environment. The token is a secret: never in a repr, log or error."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# Tokens look like "123456789:AAH...". Checked up front so a typo fails with one clear line.
TOKEN_PATTERN = re.compile(r"^\d{3,15}:[A-Za-z0-9_-]{30,64}$")

BOTFATHER_HINT = (
    "Get a token from @BotFather in Telegram (send /newbot), then run: "
    "TELEGRAM_BOT_TOKEN=<token> make run"
)


DEFAULT_FLOOD_LIMIT = 20  # updates per person per 10 s (bot/telegram/updates.py)


class ConfigError(ValueError):
    """A setting is missing or malformed. Safe to print: the message never holds the token."""


class Secret:
    """A string that refuses to show itself in reprs, f-strings and logs."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class Settings:
    token: Secret
    data_dir: Path = Path("data")
    base_url: str | None = None
    base_file_url: str | None = None
    # Tests shorten timers through these instead of patching sleep.
    poll_timeout: float = 10.0
    # Multiplies relief holds and follow-up delays (1 = real time); tests use a small value.
    time_scale: float = 1.0
    # How often the push scheduler looks for who is due, on the boundaries of this interval by
    # the clock (60: at every whole minute, so an 08:00 push leaves at 08:00:00).
    push_tick_seconds: float = 60.0
    # COACH_DATABASE_URL: PostgreSQL instead of the file store (a secret: it may hold a password).
    database_url: Secret | None = None
    db_pool_size: int = 8
    db_pool_timeout: float = 5.0
    # Flood control: updates one person may send per 10 s before the rest are skipped (0 = off).
    flood_limit: int = DEFAULT_FLOOD_LIMIT


def parse_token(raw: str | None) -> Secret:
    """Validate a bot token without ever echoing it back."""
    if raw is None or not raw.strip():
        raise ConfigError(f"TELEGRAM_BOT_TOKEN is not set. {BOTFATHER_HINT}")
    value = raw.strip()
    if not TOKEN_PATTERN.match(value):
        raise ConfigError(
            "TELEGRAM_BOT_TOKEN is malformed: expected digits, a colon and 30+ letters "
            "(as @BotFather gives it)."
        )
    return Secret(value)


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Read the configuration contract documented in README and deploy/.env.example."""
    env = dict(os.environ if env is None else env)
    token = parse_token(env.get("TELEGRAM_BOT_TOKEN"))
    base_url = env.get("TELEGRAM_BASE_URL") or None
    base_file_url = env.get("TELEGRAM_BASE_FILE_URL") or None
    if base_url and not base_url.startswith(("http://", "https://")):
        raise ConfigError("TELEGRAM_BASE_URL must start with http:// or https://")
    if base_url and not base_file_url:
        # PTB's own default would point files at api.telegram.org; keep a self-hosted server whole.
        base_file_url = base_url.rsplit("/bot", 1)[0] + "/file/bot"
    return Settings(
        token=token,
        data_dir=Path(env.get("COACH_DATA_DIR") or "data"),
        base_url=base_url,
        base_file_url=base_file_url,
        poll_timeout=float(env.get("COACH_POLL_TIMEOUT", "10")),
        time_scale=_time_scale(env.get("COACH_TIME_SCALE")),
        # COACH_TIP_TICK_SECONDS: its name before every daily push shared the scheduler.
        push_tick_seconds=_tick_seconds(
            env.get("COACH_PUSH_TICK_SECONDS") or env.get("COACH_TIP_TICK_SECONDS")
        ),
        database_url=database_url(env),
        db_pool_size=int(_setting(env, "COACH_DB_POOL_SIZE", 8, 0, 1000)),
        db_pool_timeout=_setting(env, "COACH_DB_POOL_TIMEOUT", 5, 0, 600),
        flood_limit=_flood_limit(env.get("COACH_FLOOD_LIMIT")),
    )


def _flood_limit(raw: str | None) -> int:
    """COACH_FLOOD_LIMIT: updates per person per 10 s; 0 switches flood control off."""
    if raw is None or not raw.strip():
        return DEFAULT_FLOOD_LIMIT
    if not raw.strip().isdigit():
        raise ConfigError("COACH_FLOOD_LIMIT must be a whole number of updates (0 = off)")
    return int(raw)


def database_url(env: dict[str, str]) -> Secret | None:
    """COACH_DATABASE_URL, checked without echoing it (it may hold a password)."""
    raw = (env.get("COACH_DATABASE_URL") or "").strip()
    if not raw:
        return None
    if not raw.startswith(("postgresql://", "postgres://")):
        raise ConfigError("COACH_DATABASE_URL must start with postgresql:// (or be unset)")
    return Secret(raw)


def _number(raw: str | None, name: str, default: float, low: float, high: float) -> float:
    """A setting that is a number in (low, high]; `default` when unset."""
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number like {default:g}") from None
    if not low < value <= high:
        raise ConfigError(f"{name} must be above {low:g} and at most {high:g}")
    return value


def _setting(env: dict[str, str], name: str, default: float, low: float, high: float) -> float:
    return _number(env.get(name), name, default, low, high)


def _tick_seconds(raw: str | None) -> float:
    """COACH_PUSH_TICK_SECONDS: seconds between looks for due pushes, up to an hour."""
    return _number(raw, "COACH_PUSH_TICK_SECONDS", 60.0, 0, 3600)


def _time_scale(raw: str | None) -> float:
    """COACH_TIME_SCALE: a number in (0, 1]; shortens timers for demos and tests."""
    return _number(raw, "COACH_TIME_SCALE", 1.0, 0, 1)
