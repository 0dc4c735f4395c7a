"""SIGTERM to a running bot (what Docker and systemd send on stop) loses no write in flight:
a check-in being saved, and settings changes queued behind one another."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bot.sandbox import FakeUser, LoopbackBotAPI
from tests.conftest import Backend
from tests.e2e.subprocess_bot import ROOT, BotProcess, bot_env

USERS = (301, 302, 303)


async def _press_when_shown(user: FakeUser, label: str) -> None:
    # The child process needs a moment to start: wait for the button rather than guess.
    for _ in range(20):
        message = await user.next_message(timeout=15)
        if any(label in b for b in message.labels):
            await user.press(label, message_id=message.message_id, timeout=10)
            return
    raise AssertionError(f"no button {label!r}")


async def _onboard(user: FakeUser) -> None:
    await user.send("/start")
    for label in ("I understand", "Berlin", "08:00"):
        await _press_when_shown(user, label)
    for _ in range(20):  # wait for the main menu
        if user.reply_keyboard:
            return
        await user.next_message(timeout=10)
    raise AssertionError("no main menu")


def _stored(backend: Backend, uid: int) -> dict[str, list[dict[str, Any]]]:
    """The person's data as the bot process left it (read from outside it, even while it runs:
    the file itself, or the database through a store of our own)."""
    if backend.url is None:
        path = backend.data_dir / "users" / f"{uid % 256:02x}" / f"{uid}.json"
        raw = json.loads(path.read_text(encoding="utf-8"))
        return {name: list(docs.values()) for name, docs in raw.items()}
    with backend.store() as store:
        return store.export_user_sync(uid)


def _tip_time(backend: Backend, uid: int) -> str:
    return _stored(backend, uid)["profile"][0]["tip_time"]


async def test_sigterm_during_writes_keeps_them(
    loopback: LoopbackBotAPI, backend: Backend, tmp_path: Path
) -> None:
    data_dir = backend.data_dir
    bot = BotProcess(bot_env(loopback, data_dir, **backend.env()), tmp_path / "bot.log")
    await bot.start()
    try:
        users = [loopback.user(uid, first_name="Sam") for uid in USERS]
        await asyncio.gather(*(_onboard(u) for u in users))
        for user in users:
            user.mark_seen()
        # Polling mode keeps its heartbeat fresh, so the supervisor's check passes.
        health = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "bot", "health"], cwd=ROOT, env=bot.env,
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert health.returncode == 0, health.stdout
        assert "(polling)" in health.stdout

        # Hold every reply for a while, so each first handler is still running when SIGTERM lands
        # (its write done, its reply pending), and each person's second update, queued behind
        # the first (one person's updates run in order), has not even started its write.
        loopback.inject_delay("sendMessage", 1.0, times=None)
        sent_before = loopback.count("sendMessage")
        for i, user in enumerate(users):
            await user.send(f"/tiptime 07:{i}0")
            await user.send(f"/tiptime 07:{i}5")
        async with asyncio.timeout(10):
            # Fetched and confirmed by the bot (so it owns them now), and a reply on its way.
            while loopback.pending_updates or loopback.count("sendMessage") == sent_before:
                await asyncio.sleep(0.005)
        at_signal = [_tip_time(backend, uid) for uid in USERS]
        bot.signal()
        assert await bot.wait() == 0
        loopback.clear_faults()
    finally:
        await bot.kill()

    assert "Traceback" not in bot.output, bot.output
    assert "store closed" in bot.output
    # Someone's second write had not happened yet when the signal came...
    assert any(t == f"07:{i}0" for i, t in enumerate(at_signal)), at_signal
    for i, (uid, user) in enumerate(zip(USERS, users, strict=True)):
        assert _tip_time(backend, uid) == f"07:{i}5"  # ...and yet every last write is stored
        # Both updates were finished, not cut off: their confirmations went out after the signal.
        confirmations = [m.text for m in user.events if "07:" in m.text]
        assert len(confirmations) == 2, user.events
    # The store was closed (its lock released) and left no temp files behind.
    assert not [p for p in data_dir.rglob(".*.tmp-*")]
    with backend.store():
        pass


async def test_sigterm_during_a_checkin_save_keeps_the_episode(
    loopback: LoopbackBotAPI, backend: Backend, tmp_path: Path
) -> None:
    bot = BotProcess(bot_env(loopback, backend.data_dir, **backend.env()), tmp_path / "bot.log")
    await bot.start()
    try:
        user = loopback.user(311, first_name="Sam")
        await _onboard(user)
        user.mark_seen()
        await user.send("/checkin")
        for label in ("7", "Back", "Done ✓", "Minutes"):
            await _press_when_shown(user, label)
        await _press_when_shown(user, "Stress")
        # The "Saved" edit is held back, so the save handler is still in flight at SIGTERM.
        loopback.inject_delay("editMessageText", 1.0, times=None)
        edits_before = loopback.count("editMessageText")
        await user.press("💾 Save", wait=False)
        async with asyncio.timeout(10):
            while loopback.pending_updates or loopback.count("editMessageText") == edits_before:
                await asyncio.sleep(0.005)
        bot.signal()
        assert await bot.wait() == 0
        loopback.clear_faults()
    finally:
        await bot.kill()

    assert "Traceback" not in bot.output, bot.output
    [episode] = _stored(backend, 311)["episodes"]
    assert episode["intensity"] == 7 and episode["regions"] == ["back"]
    assert episode["triggers"] == ["stress"]
    assert any("Saved" in m.text for m in user.events)  # the confirmation still went out
