"""Insights on days: three kinds of day, calmest among recorded days, which pattern rule runs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from bot.domain import insights as stats

ZONE = "Europe/Berlin"
NOW = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)  # Wednesday 18:00 in Berlin
TODAY = date(2026, 11, 25)


def ep(days_ago: int, intensity: int, triggers: list[str] | None = None) -> dict:
    started = (NOW - timedelta(days=days_ago)).replace(hour=10)
    return {"started_at": started.isoformat(), "tz": ZONE, "intensity": intensity,
            "triggers": triggers or []}  # fmt: skip


def answered(days_ago: int, rating: int, factors: list[str] | None = None) -> dict:
    day = (TODAY - timedelta(days=days_ago)).isoformat()
    return {"date": day, "rating": rating, "factors": factors or [], "offered": ["cold"]}


def test_three_kinds_of_day() -> None:
    series = stats.daily_series(
        [ep(0, 5), ep(3, 2)], ZONE, TODAY, 5, [answered(1, 0), answered(2, 1), answered(3, 0)]
    )
    assert [d.kind for d in series] == [
        "not_recorded", "twitching", "twitching", "calm", "twitching",
    ]  # fmt: skip
    counts = stats.day_counts(series)
    assert (counts.total, counts.recorded, counts.calm, counts.twitching) == (5, 4, 1, 3)
    assert counts.not_recorded == 1


def test_calmest_day_only_among_recorded_days() -> None:
    # One 9/10 episode on Monday, a calm answered Tuesday, nothing else recorded.
    summary = stats.week_summary([ep(2, 9), ep(20, 3), ep(21, 3)], [], ZONE, NOW, [answered(1, 0)])
    assert summary.best_day is not None and summary.best_day.day == TODAY - timedelta(days=1)
    assert summary.worst_day is not None and summary.worst_day.day == TODAY - timedelta(days=2)
    assert (summary.kinds.recorded, summary.kinds.calm) == (2, 1)
    # With only one recorded day there is no calmest day to name.
    alone = stats.week_summary([ep(2, 9), ep(20, 3), ep(21, 3)], [], ZONE, NOW)
    assert alone.best_day is None and alone.worst_day is None


def test_diary_days_alone_are_enough_for_a_chart() -> None:
    assert stats.week_summary([], [], ZONE, NOW, [answered(d, 0) for d in range(3)]).enough_data
    assert not stats.week_summary([], [], ZONE, NOW, [answered(d, 0) for d in range(2)]).enough_data


def test_episode_patterns_for_people_without_the_diary_diary_rule_for_the_others() -> None:
    episodes = [ep(d, 8, ["poor_sleep"]) for d in range(3)] + [ep(d, 3) for d in range(3, 6)]
    without_diary = stats.week_summary(episodes, [], ZONE, NOW)
    assert [p.trigger for p in without_diary.patterns] == ["poor_sleep"]
    assert without_diary.findings == []
    diary_days = [answered(d, 3 if d % 2 else 0, ["cold"] if d % 2 else []) for d in range(20)]
    with_diary = stats.week_summary(episodes, [], ZONE, NOW, diary_days, ["cold"])
    assert with_diary.patterns == []  # the biased bad-days-only comparison is not used
    assert [f.factor for f in with_diary.findings] == ["cold"]
