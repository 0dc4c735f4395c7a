"""The push scheduler (bot/pushes.py) on a real Store: slots, the due index, the claim, and the
workers, with a recording send in place of Telegram."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.content import load_content
from bot.domain.coaching import TOPICS
from bot.pushes import (
    DueIndex,
    Outgoing,
    PushKind,
    PushScheduler,
    claim,
    hhmm,
    slot_of,
)
from bot.storage import INDEX_FIELDS, Store, UserData
from bot.telegram.callbacks import CallbackCodec
from bot.telegram.context import services_of
from bot.telegram.tips import tip_kind

BERLIN = "Europe/Berlin"
TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"


def berlin(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """Wednesday 10 June 2026 (UTC+2), or `days` later."""
    return datetime(2026, 6, 10, hour - 2, minute, tzinfo=UTC) + timedelta(days=days)


def entry(**overrides: object) -> dict[str, Any]:
    return {
        "tz": BERLIN,
        "tip_time": "08:00",
        "accepted": True,
        "active": True,
        "onboarded": True,
        **overrides,
    }


def note_kind(name: str = "note", **overrides: Any) -> PushKind[str]:
    """A plain daily push at `tip_time` that records what it prepared in a table."""

    def prepare(data: UserData, now: datetime, day: date) -> str | None:
        data.insert("notes", {"day": day.isoformat()})
        return f"note for {day}"

    fields: dict[str, Any] = {
        "name": name,
        "marker": f"{name}_date",
        "fields": ("tip_time",),
        "local_time": lambda e: hhmm(e.get("tip_time")),
        "prepare": prepare,
        "render": lambda uid, text: [Outgoing(text)],
        **overrides,
    }
    return PushKind(**fields)


# ---------------------------------------------------------------------------- slots


def test_no_slot_without_acceptance_activity_zone_or_time() -> None:
    kind = note_kind()
    assert slot_of(kind, entry()) is not None
    assert slot_of(kind, entry(active=False)) is None
    assert slot_of(kind, entry(accepted=False)) is None
    assert slot_of(kind, entry(tz="Mars/Olympus")) is None
    assert slot_of(kind, entry(tz=None)) is None
    assert slot_of(kind, entry(tip_time="8 am")) is None
    assert slot_of(kind, {"accepted": True}) is None
    assert slot_of(kind, None) is None


# ---------------------------------------------------------------------------- the index


def scheduler(store: Store, clock: ManualClock, *kinds: PushKind[Any]) -> PushScheduler:
    async def never(_uid: int, _message: Outgoing) -> bool:
        raise AssertionError("nothing is sent here")

    pushes = PushScheduler(store, clock, never)
    for kind in kinds:
        pushes.register(kind)
    return pushes


def test_rebuild_and_pop_whoever_is_due(tmp_path: Path) -> None:
    now = berlin(7, 30)
    paused = note_kind("paused", paused_until=lambda e: berlin(9))
    with Store(tmp_path, fsync=False) as store:
        pushes = scheduler(store, ManualClock(now), note_kind(), paused)
        pushes.rebuild(
            [
                (1, entry()),
                (2, entry(tip_time="07:00")),  # missed 30 min ago: due now (catch-up)
                (3, entry(tip_time="07:00", tz="Asia/Kolkata")),  # long past: tomorrow
                (4, entry(active=False)),
            ],
            now,
        )
        assert pushes.scheduled("note") == 3
        assert pushes.next_at("note", 2) == now
        assert pushes.next_at("note", 4) is None
        # A pause past today's 08:00 moves that kind (only) to tomorrow.
        assert pushes.next_at("paused", 1) == berlin(8, days=1)
        assert pushes.next_at("note", 1) == berlin(8)


def test_the_due_index_keeps_one_instant_per_person() -> None:
    index = DueIndex()
    index.load({1: berlin(8).timestamp(), 2: berlin(8).timestamp(), 3: berlin(9).timestamp()})
    assert index.pop_due(berlin(7, 59)) == []
    index.set(1, berlin(7, 45))  # an earlier time replaces the old one
    assert index.pop_due(berlin(7, 50)) == [1]
    assert index.pop_due(berlin(8)) == [2]  # 1 is not popped again at its old instant
    index.set(3, None)
    index.set(4, berlin(10))
    assert index.pop_due(berlin(12)) == [4] and len(index) == 0
    for n in range(3000):  # many reschedules: the heap stays bounded
        index.set(5, berlin(8) + timedelta(seconds=n))
    assert len(index._heap) <= 2 * len(index._buckets) + 1024
    assert index.pop_due(berlin(9)) == [5]


# ---------------------------------------------------------------------------- the claim


def test_the_marker_is_written_with_the_prepared_data_before_sending(tmp_path: Path) -> None:
    kind = note_kind()
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        first = store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(8)))
        assert first.messages == (Outgoing("note for 2026-06-10"),)
        assert first.next_at == berlin(8, days=1)
        assert store.get_profile_sync(1)["note_date"] == "2026-06-10"  # type: ignore[index]
        assert len(store.all_sync(1, "notes")) == 1
        again = store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(8, 5)))
        assert again.messages == () and again.next_at == berlin(8, days=1)
        assert len(store.all_sync(1, "notes")) == 1
        too_early = store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(7, days=1)))
        assert too_early.messages == () and too_early.next_at == berlin(8, days=1)


def test_nothing_is_written_when_render_fails(tmp_path: Path) -> None:
    def broken(uid: int, text: str) -> list[Outgoing]:
        raise KeyError("insights.missing_key")

    kind = note_kind(render=broken)
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        before = store.export_user_sync(1)
        with pytest.raises(KeyError):
            store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(8)))
        assert store.export_user_sync(1) == before  # no marker, no half-prepared push


def test_nothing_to_send_claims_nothing_and_looks_again_next_period(tmp_path: Path) -> None:
    kind = note_kind(prepare=lambda data, now, day: None)
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        result = store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(8)))
        assert result.messages == () and result.next_at == berlin(8, days=1)
        assert "note_date" not in (store.get_profile_sync(1) or {})


def test_the_morning_tip_kind(tmp_path: Path) -> None:
    content = load_content()
    kind = tip_kind(content, CallbackCodec(b"k" * 32), content.tips)
    random.seed(3)
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        first = store.transact_sync(1, lambda data: claim(kind, 1, data, berlin(8)))
        [message] = first.messages
        assert message.text.startswith("💡") and message.markup is not None
        assert store.get_profile_sync(1)["last_tip_date"] == "2026-06-10"  # type: ignore[index]
        [history] = store.all_sync(1, "tips")
        assert history["kind"] == "morning" and history["local_date"] == "2026-06-10"
        # Every topic switched off: nothing sent, nothing recorded, tomorrow looked at again.
        store.save_profile_sync(2, entry(tips_topics_off=list(TOPICS)))
        none = store.transact_sync(2, lambda data: claim(kind, 2, data, berlin(8)))
        assert none.messages == () and store.all_sync(2, "tips") == []
        assert none.next_at == berlin(8, days=1)
        # Switched off, paused past today, or blocked: not claimed.
        store.save_profile_sync(3, entry(tips_enabled=False))
        assert store.transact_sync(3, lambda d: claim(kind, 3, d, berlin(8))).next_at is None
        paused = entry(tips_paused_until=berlin(9, days=1).isoformat())
        store.save_profile_sync(4, paused)
        result = store.transact_sync(4, lambda d: claim(kind, 4, d, berlin(8)))
        assert result.messages == () and result.next_at == berlin(8, days=2)
        store.save_profile_sync(5, entry(active=False))
        assert store.transact_sync(5, lambda d: claim(kind, 5, d, berlin(8))).next_at is None


# ---------------------------------------------------------------------------- registering


def test_register_refuses_unknown_index_fields_and_twins(tmp_path: Path) -> None:
    with Store(tmp_path, fsync=False) as store:
        pushes = scheduler(store, ManualClock(berlin(7)), note_kind())
        with pytest.raises(ValueError, match="registered twice"):
            pushes.register(note_kind())
        with pytest.raises(ValueError, match="INDEX_FIELDS"):
            pushes.register(note_kind("diary", fields=("diary_mood",)))
        with pytest.raises(ValueError, match="marker"):
            pushes.register(note_kind("odd", marker="tip_time"))


def test_the_bot_registers_every_daily_push_with_index_fields(tmp_path: Path) -> None:
    settings = Settings(token=Secret(TOKEN), data_dir=tmp_path)
    app = build_application(settings, clock=ManualClock(berlin(7)))
    kinds = services_of(app).pushes.kinds
    assert set(kinds) >= {"tip", "weekly", "evening_checks"}
    for kind in kinds.values():
        assert set(kind.fields) <= set(INDEX_FIELDS), kind.name
        assert kind.opt_in is not None, f"{kind.name}: the benchmark needs opt_in"
    services_of(app).store.close_sync()


def test_an_index_built_with_other_fields_is_rebuilt_at_open(tmp_path: Path) -> None:
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry(weekly_summary=True))
    # As an older version left it: no weekly_summary in the entry, no fields.json.
    shard = tmp_path / "index" / "01.json"
    shard.write_text(json.dumps({"1": {"tz": BERLIN, "accepted": True}}))
    (tmp_path / "index" / "fields.json").unlink()
    with Store(tmp_path, fsync=False) as store:
        assert dict(store.index_entries())[1]["weekly_summary"] is True
    assert json.loads((tmp_path / "index" / "fields.json").read_text()) == list(INDEX_FIELDS)


# ---------------------------------------------------------------------------- the workers


class Host:
    running = True

    def create_task(self, coroutine: Any, *, name: str | None = None) -> Any:
        return asyncio.get_running_loop().create_task(coroutine, name=name)


async def wait_for(condition: Any, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


async def test_one_persons_slow_send_holds_neither_the_tick_nor_anyone_else(
    tmp_path: Path,
) -> None:
    clock = ManualClock(berlin(8))
    sent: list[int] = []
    release = asyncio.Event()

    async def send(uid: int, message: Outgoing) -> bool:
        if uid == 1:  # e.g. retrying with backoff after network errors
            await release.wait()
        sent.append(uid)
        return True

    with Store(tmp_path, fsync=False) as store:
        for uid in (1, 2, 3):
            store.save_profile_sync(uid, entry())
        pushes = PushScheduler(store, clock, send, concurrency=2, tick_seconds=0.05)
        pushes.register(note_kind())
        await pushes.start(Host())
        try:
            await wait_for(lambda: len(sent) == 2)  # 2 and 3, while 1 is still being tried
            assert sorted(sent) == [2, 3]
            ticks = pushes.ticks
            await wait_for(lambda: pushes.ticks > ticks + 1, timeout=5)  # ticks go on meanwhile
            release.set()
            await pushes.settled()
            assert sorted(sent) == [1, 2, 3] and pushes.delivered["note"] == 3
        finally:
            release.set()
            await pushes.stop()


async def test_a_change_counts_from_the_moment_it_was_made(tmp_path: Path) -> None:
    clock = ManualClock(berlin(7, 59))
    delivered: list[int] = []

    async def send(uid: int, message: Outgoing) -> bool:
        delivered.append(uid)
        return True

    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry(tip_time="09:00"))
        pushes = PushScheduler(store, clock, send)
        pushes.register(note_kind())
        pushes.rebuild(store.index_entries(), clock.now())
        store.index_listeners.append(pushes.on_index_change)
        await store.update_profile(1, {"tip_time": "08:00"})  # at 07:59, for 08:00
        clock.set(berlin(8) + timedelta(seconds=1))  # the next tick comes after 08:00
        pushes.tick()
        assert pushes.next_at("note", 1) is None, "popped: due now, not tomorrow"
        assert await pushes.process("note", 1) is True
        assert delivered == [1]


async def test_an_unrelated_change_does_not_cost_a_push_already_due(tmp_path: Path) -> None:
    clock = ManualClock(berlin(9, 30))  # back after downtime: the 08:00 push is caught up
    with Store(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        pushes = scheduler(store, clock, note_kind())
        pushes.rebuild(store.index_entries(), berlin(9, 30))
        store.index_listeners.append(pushes.on_index_change)
        assert pushes.next_at("note", 1) == berlin(9, 30)  # due now: catch-up
        clock.set(berlin(9, 30) + timedelta(seconds=1))
        await store.update_profile(1, {"relief_timer_due": clock.now().isoformat()})
        await store.update_profile(1, {"tz": "Europe/Paris"})  # same wall clock
        pushes.tick()
        assert pushes.next_at("note", 1) is None and pushes._queue, "popped: still due"
        # Switched off while due: unscheduled at once.
        store.save_profile_sync(2, entry())
        pushes.rebuild(store.index_entries(), clock.now())
        await store.update_profile(2, {"tip_time": None})
        pushes.tick()
        assert pushes.next_at("note", 2) is None and ("note", 2) not in pushes._queue


def test_kinds_take_turns_in_the_queue(tmp_path: Path) -> None:
    with Store(tmp_path, fsync=False) as store:
        pushes = scheduler(store, ManualClock(berlin(8)), note_kind("many"), note_kind("few"))
        at = berlin(8).timestamp()
        pushes._index["many"].load({uid: at for uid in range(1, 101)})
        pushes._index["few"].load({500: at})
        assert pushes.tick() == 101
        assert {name for name, _ in list(pushes._queue)[:2]} == {"many", "few"}
