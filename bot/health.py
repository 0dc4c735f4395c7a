"""Liveness for supervisors: a heartbeat file the bot refreshes, and the check that reads it.

The bot writes ``<data dir>/heartbeat.json`` every ``COACH_HEARTBEAT_SECONDS`` (default 60) from
its job queue, so a fresh file proves the event loop and the scheduler are alive. In polling mode it
is written only while the updater is polling. `twitch-coach health` reads it (and, in webhook mode,
also asks the bot's own ``/healthz``) and exits 0 (alive) or 1 (not).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.config import ConfigError
from bot.storage.atomic import DIR_MODE, write_json_atomic

HEARTBEAT_FILE = "heartbeat.json"
DEFAULT_INTERVAL = 60.0


def heartbeat_path(data_dir: Path) -> Path:
    return Path(data_dir) / HEARTBEAT_FILE


def heartbeat_interval(env: dict[str, str] | None = None) -> float:
    env = dict(os.environ if env is None else env)
    raw = env.get("COACH_HEARTBEAT_SECONDS") or str(DEFAULT_INTERVAL)
    try:
        return max(float(raw), 0.05)
    except ValueError:
        msg = f"COACH_HEARTBEAT_SECONDS must be a number of seconds, not {raw!r}"
        raise ConfigError(msg) from None


def write_heartbeat(path: Path, mode: str) -> None:
    """Record "alive now" (wall-clock seconds); atomic, so a reader never sees half a file."""
    # No fsync: a heartbeat lost in a power cut is harmless, and this runs every minute.
    write_json_atomic(path, {"at": time.time(), "pid": os.getpid(), "mode": mode}, fsync=False)


def install_heartbeat(app: Any, path: Path, mode: str, interval: float) -> None:
    """Refresh the heartbeat from the application's JobQueue while it runs."""

    async def beat(_context: Any) -> None:
        # In polling mode a stopped updater means no updates arrive: not alive, stop beating.
        if mode == "polling" and (app.updater is None or not app.updater.running):
            return
        # A thread: a slow disk must not stall every person's updates on the event loop.
        await asyncio.to_thread(write_heartbeat, path, mode)

    assert app.job_queue is not None, "the job-queue extra of python-telegram-bot is required"
    # With PostgreSQL the data folder holds only this file, so nothing else may have made it.
    path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    app.job_queue.run_repeating(beat, interval=interval, first=0.0, name="heartbeat")


@dataclass(frozen=True)
class HealthResult:
    ok: bool
    reason: str


def check_heartbeat(path: Path, max_age: float, now: float | None = None) -> HealthResult:
    """Alive if the heartbeat file exists, parses and is younger than ``max_age`` seconds."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        at = float(data["at"])
    except FileNotFoundError:
        return HealthResult(False, f"no heartbeat file at {path} (is the bot running?)")
    except (OSError, ValueError, KeyError, TypeError):
        return HealthResult(False, f"unreadable heartbeat file {path}")
    age = (time.time() if now is None else now) - at
    if age > max_age:
        return HealthResult(False, f"heartbeat is {age:.0f}s old (limit {max_age:.0f}s)")
    return HealthResult(True, f"heartbeat {max(age, 0):.0f}s ago ({data.get('mode', '?')})")


def check_http(url: str, timeout: float = 5.0) -> HealthResult:
    """Alive if ``url`` (the bot's /healthz) answers 200."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError) as exc:
        return HealthResult(False, f"{url} unreachable: {getattr(exc, 'reason', exc)}")
    if status != 200:
        return HealthResult(False, f"{url} answered {status}")
    return HealthResult(True, f"{url} answered 200")
