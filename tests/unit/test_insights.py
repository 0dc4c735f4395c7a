"""Pure insight rules: daily series, weekly summary, the pattern rule, the persistence rule."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.domain import insights as stats
from bot.telegram.insights import episodes_csv
from bot.telegram.jobs import job_belongs_to

ZONE = "Europe/Berlin"
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wednesday 18:00 in Berlin


def ep(days_ago: int, intensity: int = 5, triggers: list[str] | None = None, **extra: Any) -> dict:
    """An episode in the shared contract shape, `days_ago` local days before NOW, at 10:00 UTC."""
    started = (NOW - timedelta(days=days_ago)).replace(hour=10, minute=0)
    doc = {
        "started_at": started.isoformat(),
        "tz": ZONE,
        "intensity": intensity,
        "regions": ["face"],
        "duration": "minutes",
        "triggers": triggers or [],
        "tried": [],
        "note": None,
        "source": "checkin",
        "created_at": started.isoformat(),
        "updated_at": started.isoformat(),
    }
    doc.update(extra)
    return doc


def test_local_day_uses_the_zone_the_episode_was_logged_in() -> None:
    late = {"started_at": "2026-11-24T23:30:00+00:00", "tz": "Europe/Berlin"}
    assert stats.local_day(late, "UTC") == date(2026, 11, 25)
    assert stats.local_day({**late, "tz": "America/New_York"}, "UTC") == date(2026, 11, 24)
    assert stats.local_day({"started_at": "garbage"}, ZONE) is None


def test_daily_series_counts_and_averages_with_empty_days() -> None:
    series = stats.daily_series([ep(0, 4), ep(0, 6), ep(2, 8)], ZONE, date(2026, 11, 25), 7)
    assert [d.count for d in series] == [0, 0, 0, 0, 1, 0, 2]
    assert series[-1].average == 5.0 and series[-3].average == 8.0 and series[0].average is None


def test_week_summary_compares_with_the_week_before() -> None:
    episodes = [ep(0, 6, ["stress"]), ep(1, 4, ["stress"]), ep(1, 2), ep(8, 8), ep(9, 8)]
    runs = [
        {"routine_id": "warm_compress", "started_at": NOW.isoformat(), "outcome": "much_better"},
        {"routine_id": "warm_compress", "started_at": NOW.isoformat(), "outcome": "same"},
        {"routine_id": "stretch", "started_at": NOW.isoformat(), "outcome": "worse"},
        {"routine_id": "stretch", "started_at": NOW.isoformat(), "outcome": None},
    ]
    summary = stats.week_summary(episodes, runs, ZONE, NOW)
    assert summary.enough_data
    assert summary.this_week.count == 3 and summary.this_week.average == 4.0
    assert summary.last_week.count == 2 and summary.last_week.average == 8.0
    assert summary.triggers == [("stress", 2)]
    assert summary.relief is not None and summary.relief.routine_id == "warm_compress"
    assert (summary.relief.helped, summary.relief.answered) == (1, 2)
    assert summary.worst_day is not None and summary.worst_day.day == date(2026, 11, 24)
    assert summary.best_day is not None and summary.best_day.day == date(2026, 11, 25)
    assert len(summary.previous_weeks) == 4 and all(len(w) == 7 for w in summary.previous_weeks)


def test_too_little_data_is_flagged() -> None:
    assert not stats.week_summary([ep(0), ep(1)], [], ZONE, NOW).enough_data
    assert not stats.week_summary([ep(40), ep(41), ep(42)], [], ZONE, NOW).enough_data
    assert stats.week_summary([ep(0), ep(10), ep(30)], [], ZONE, NOW).enough_data


def test_relief_that_never_helped_is_not_called_helpful() -> None:
    runs = [{"routine_id": "cold", "started_at": NOW.isoformat(), "outcome": "same"}]
    assert stats.best_relief(runs) is None


# --- the pattern rule


def _days(n: int, start: int, intensity: int, triggers: list[str] | None = None) -> list[dict]:
    return [ep(start + i, intensity, triggers) for i in range(n)]


def test_pattern_found_when_trigger_days_are_clearly_worse() -> None:
    episodes = _days(3, 0, 7, ["poor_sleep"]) + _days(3, 3, 4)
    [pattern] = stats.trigger_patterns(episodes, ZONE)
    assert pattern.trigger == "poor_sleep" and pattern.kind == "stronger"
    assert (pattern.with_value, pattern.without_value) == (7.0, 4.0)
    assert (pattern.with_days, pattern.without_days) == (3, 3)


def test_pattern_needs_three_days_with_and_three_without() -> None:
    assert stats.trigger_patterns(_days(2, 0, 9, ["stress"]) + _days(5, 2, 2), ZONE) == []
    assert stats.trigger_patterns(_days(5, 0, 9, ["stress"]) + _days(2, 5, 2), ZONE) == []


def test_small_differences_and_milder_trigger_days_are_not_patterns() -> None:
    assert stats.trigger_patterns(_days(3, 0, 6, ["stress"]) + _days(3, 3, 5), ZONE) == []
    # Trigger days *milder* than others: never reported (would read as advice to seek it out).
    assert stats.trigger_patterns(_days(3, 0, 2, ["caffeine"]) + _days(3, 3, 8), ZONE) == []


def test_pattern_on_frequency() -> None:
    busy = [ep(d, 5, ["overdid_it"]) for d in (0, 1, 2) for _ in range(3)]
    assert [p.kind for p in stats.trigger_patterns(busy + _days(3, 3, 5), ZONE)] == ["more_often"]


def test_not_sure_and_unlogged_days_do_not_count() -> None:
    assert stats.trigger_patterns(_days(3, 0, 9, ["not_sure"]) + _days(3, 3, 2), ZONE) == []
    # 3 trigger days and only 2 logged other days: days with nothing logged aren't evidence.
    episodes = [*_days(3, 0, 9, ["stress"]), ep(10, 2), ep(20, 2)]
    assert stats.trigger_patterns(episodes, ZONE) == []


# --- the persistence rule


def test_persistence_lasting_needs_more_than_two_weeks_in_the_window() -> None:
    assert stats.persistence_flags([ep(0), ep(14)], ZONE, NOW) == []
    assert stats.persistence_flags([ep(0), ep(15)], ZONE, NOW) == ["lasting"]
    assert stats.persistence_flags([ep(15), ep(30)], ZONE, NOW) == []  # one is out of the window


def test_persistence_several_places() -> None:
    face, back = ep(0, regions=["face"]), ep(3, regions=["back"])
    assert stats.persistence_flags([face, back], ZONE, NOW) == ["several_places"]
    assert stats.persistence_flags([ep(1, regions=["many"])], ZONE, NOW) == ["several_places"]
    both = stats.persistence_flags([face, ep(20, regions=["back"])], ZONE, NOW)
    assert both == ["lasting", "several_places"]
    assert stats.persistence_flags([face, ep(2, regions=["face"])], ZONE, NOW) == []


def test_report_data_counts_and_outcomes() -> None:
    episodes = [ep(0, 6, ["stress"], regions=["face", "back"]), ep(20, 2), ep(45, 9)]
    runs = [
        {"routine_id": "stretch", "started_at": NOW.isoformat(), "outcome": "a_bit_better"},
        {"routine_id": "stretch", "started_at": NOW.isoformat(), "outcome": None},
        {"routine_id": "old", "started_at": (NOW - timedelta(days=60)).isoformat()},
    ]
    data = stats.report_data(episodes, runs, ZONE, NOW, 30)
    assert data.episode_count == 2 and data.days_with_episodes == 2 and data.highest == 6
    assert dict(data.regions) == {"face": 2, "back": 1}
    [(routine, times, outcomes)] = data.relief
    assert routine == "stretch" and times == 2
    assert outcomes == {"a_bit_better": 1, "no_answer": 1}
    assert stats.report_data(episodes, runs, ZONE, NOW, 90).episode_count == 3


def test_csv_has_one_row_per_episode_with_zoned_times() -> None:
    episodes = [
        {**ep(0), "id": 1, "note": 'ünïcode, "quoted"\nline'},
        {**ep(1), "id": 2, "note": "=HYPERLINK()"},
    ]
    rows = list(csv.DictReader(io.StringIO(episodes_csv(episodes, ZONE).decode("utf-8"))))
    assert len(rows) == 2
    assert rows[1]["started_at_local"] == "2026-11-25T11:00:00+01:00"
    assert rows[1]["started_at_utc"] == "2026-11-25T10:00:00+00:00"
    assert rows[1]["note"] == 'ünïcode, "quoted"\nline'
    assert rows[0]["note"] == "'=HYPERLINK()"


@pytest.mark.parametrize(
    ("name", "owned"),
    [
        ("rl.hold.u123.7", True),
        ("u123:followup", True),
        ("ck-remind-u123", True),
        ("rl.hold.u1234.7", False),
        ("rl.hold.u12.7", False),
        ("menu123", False),
        ("insights.tick", False),
        (None, False),
    ],
)
def test_job_naming_convention(name: str | None, owned: bool) -> None:
    assert job_belongs_to(name, 123) is owned
