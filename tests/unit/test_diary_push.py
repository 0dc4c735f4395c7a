"""What the evening push sends, decided in one unit of work on a real store (both engines)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.content import load_content
from bot.storage import Store
from bot.telegram.diary.push import prepare
from bot.telegram.diary.shared import builtin_factors
from tests.conftest import Backend

UID = 4711
EVENING = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)  # 20:00 in Berlin
BUILTIN = builtin_factors(load_content())


@pytest.fixture
def store(backend: Backend) -> Iterator[Store]:
    opened = backend.store().open()
    try:
        opened.save_profile_sync(
            UID,
            {"accepted": True, "tz": "Europe/Berlin", "diary_enabled": True, "diary_time": "20:00"},
        )
        yield opened
    finally:
        opened.close_sync()


def push_at(store: Store, when: datetime):
    return store.transact_sync(UID, lambda data: prepare(data, when, BUILTIN))


def test_the_diary_for_today_with_todays_episodes(store: Store) -> None:
    for hours in (1, 3):
        store.insert_sync(
            UID,
            "episodes",
            {"started_at": (EVENING - timedelta(hours=hours)).isoformat(), "tz": "Europe/Berlin"},
        )
    store.insert_sync(UID, "episodes", {"started_at": "2026-06-09T10:00:00+00:00"})
    push = push_at(store, EVENING)
    assert push is not None and push.view is not None
    assert push.view.day.isoformat() == "2026-06-10" and push.view.episodes == 2
    assert not push.view.late_night
    assert store.get_profile_sync(UID)["diary_last_push"] == "2026-06-10"


def test_after_midnight_it_is_for_yesterday(store: Store) -> None:
    push = push_at(store, datetime(2026, 6, 10, 22, 30, tzinfo=UTC))  # 00:30 on the 11th
    assert push is not None and push.view is not None
    assert push.view.day.isoformat() == "2026-06-10" and push.view.late_night


def test_nothing_when_the_day_is_recorded_or_the_check_is_off(store: Store) -> None:
    store.insert_sync(UID, "diary_days", {"date": "2026-06-10", "rating": 0})
    assert push_at(store, EVENING) is None
    store.update_profile_sync(UID, {"diary_enabled": False})
    assert push_at(store, EVENING + timedelta(days=1)) is None


def test_a_week_unanswered_asks_once_then_stays_quiet(store: Store) -> None:
    sent = [push_at(store, EVENING + timedelta(days=d)) for d in range(10)]
    assert all(p is not None and p.view is not None for p in sent[:7])
    assert sent[7] is not None and sent[7].view is None and sent[7].time == "20:00"
    assert sent[8] is None and sent[9] is None
    profile = store.get_profile_sync(UID)
    assert profile["diary_quiet"] is True and profile["diary_unanswered"] == 7
