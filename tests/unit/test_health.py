"""The heartbeat check a supervisor runs."""

from __future__ import annotations

import json
from pathlib import Path

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
