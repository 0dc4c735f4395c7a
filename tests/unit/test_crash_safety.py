"""Crash safety: SIGKILL a writer at random moments; every acknowledged save must survive.

A save is acknowledged ("ack") only after the Store call returned, exactly like a handler that
answers the user "saved" after `await store.insert(...)`.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.storage import FileStore
from tests.data_files import stray_files

WRITER = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]
UID = 31337
ROUNDS = 15  # per mode; each round costs one Python start-up (~0.1 s)


def run_and_kill(mode: str, data_dir: Path, first_n: int, rng: random.Random) -> list[str]:
    """Start the writer, let it save for a random moment, SIGKILL it; return its ack lines."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, str(WRITER), mode, str(data_dir), str(UID), str(first_n)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.005, 0.08))
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    return [line for line in out.splitlines() if line.startswith("ack ")]


def acked(lines: list[str], kind: str) -> set[int]:
    return {int(line.split()[2]) for line in lines if line.split()[1] == kind}


@pytest.mark.parametrize("mode", ["store", "tinydb"])
def test_acked_saves_survive_sigkill(tmp_path: Path, mode: str) -> None:
    rng = random.Random(f"crash-{mode}")  # random moments, reproducible runs
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    saved: set[int] = set()
    last_profile = -1
    next_n = 0
    left_behind: list[Path] = []  # by the previous killed writer
    rounds_with_leftovers = 0
    for _ in range(ROUNDS):
        lines = run_and_kill(mode, data_dir, next_n, rng)
        if mode == "store":
            # The writer that just ran opened the Store after its predecessor was killed: what
            # that one left half-written is gone (the store mode's writer is the next "start").
            assert not [p for p in left_behind if p.exists()], left_behind
            left_behind = stray_files(data_dir)
            rounds_with_leftovers += bool(left_behind)
        saved |= acked(lines, "checkin")
        last_profile = max([last_profile, *acked(lines, "profile")])
        next_n = max(saved, default=next_n - 1) + 1000  # fresh numbers for the next round

        if mode == "tinydb":
            data = json.loads((data_dir / "plain.json").read_text(encoding="utf-8"))
        else:
            users = data_dir / "users" / f"{UID % 256:02x}"
            data = json.loads((users / f"{UID}.json").read_text(encoding="utf-8"))
            shard = json.loads((data_dir / "index" / f"{UID % 64:02d}.json").read_text())
            # The index is written before the profile ack, so it is at least that new.
            assert shard[str(UID)]["tips_paused_until"] >= last_profile
            assert data["profile"]["1"]["tips_paused_until"] >= last_profile
        on_disk = {doc["n"] for doc in data["checkins"].values()}
        assert saved <= on_disk, f"lost acked saves: {sorted(saved - on_disk)[:5]}"

    assert len(saved) > ROUNDS  # the writer really did get to save things
    if mode == "store":
        # Kills land mid-write in about 6 rounds of 10: the clean-up above was really tested.
        assert rounds_with_leftovers > 0
        with FileStore(data_dir) as store:
            assert stray_files(data_dir) == []  # the last writer's leftovers, on this open
            assert len(store.all_sync(UID, "checkins")) >= len(saved)
            assert store.verify_all() == []
