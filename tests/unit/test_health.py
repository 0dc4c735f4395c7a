"""The heartbeat check a supervisor runs."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bot.health as health
from bot.health import check_heartbeat, write_heartbeat


def test_fresh_heartbeat_is_healthy_and_old_or_missing_is_not(tmp_path: Path) -> None:
    path = tmp_path / "heartbeat.json"
    assert not check_heartbeat(path, 60).ok  # no file: the bot never ran
    write_heartbeat(path, "polling")
    at = json.loads(path.read_text())["at"]
    assert check_heartbeat(path, 60, now=at + 59).ok
    stale = check_heartbeat(path, 60, now=at + 61)
    assert not stale.ok and "old" in stale.reason
    path.write_text("{not json")
    assert not check_heartbeat(path, 60).ok


async def test_heartbeat_is_written_off_the_event_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A slow disk must not stall the event loop (every person's updates run on it)."""
    writers: list[threading.Thread] = []
    monkeypatch.setattr(
        health, "write_heartbeat", lambda path, mode: writers.append(threading.current_thread())
    )
    beats: list[Any] = []
    queue = SimpleNamespace(run_repeating=lambda callback, **_kw: beats.append(callback))
    app = SimpleNamespace(updater=None, job_queue=queue)
    health.install_heartbeat(app, tmp_path / "heartbeat.json", "webhook", 60)
    await beats[0](None)  # what the job queue runs every interval
    assert len(writers) == 1 and writers[0] is not threading.main_thread()
