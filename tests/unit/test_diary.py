"""Pure diary rules: which day an answer is for, factors, and when the evening check steps back."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.domain import diary
from bot.domain.diary import Factor

BUILTIN = [Factor("slept_badly", "Slept badly last night", lag=True), Factor("cold", "Cold")]


def own(doc_id: int, name: str, position: int = 0, archived: bool = False) -> dict:
    return {"id": doc_id, "name": name, "position": position, "archived": archived}


@pytest.mark.parametrize(
    ("utc", "zone", "expected"),
    [
        (datetime(2026, 6, 10, 18, 0, tzinfo=UTC), "Europe/Berlin", date(2026, 6, 10)),
        (datetime(2026, 6, 10, 23, 30, tzinfo=UTC), "Europe/Berlin", date(2026, 6, 10)),  # 01:30
        (datetime(2026, 6, 11, 0, 59, tzinfo=UTC), "Europe/Berlin", date(2026, 6, 10)),  # 02:59
        (datetime(2026, 6, 11, 1, 0, tzinfo=UTC), "Europe/Berlin", date(2026, 6, 11)),  # 03:00
        (datetime(2026, 6, 10, 20, 0, tzinfo=UTC), "Asia/Kolkata", date(2026, 6, 10)),  # 01:30
    ],
)
def test_answering_before_three_is_for_yesterday(utc: datetime, zone: str, expected: date) -> None:
    assert diary.diary_date(utc, zone) == expected


def test_row_and_answerable_days() -> None:
    now = datetime(2026, 6, 10, 18, 0, tzinfo=UTC)
    dates = diary.row_dates(now, "Europe/Berlin")
    assert dates[0] == date(2026, 6, 4) and dates[-1] == date(2026, 6, 10) and len(dates) == 7
    assert diary.answerable(date(2026, 6, 4), now, "Europe/Berlin")
    assert not diary.answerable(date(2026, 6, 3), now, "Europe/Berlin")
    assert not diary.answerable(date(2026, 6, 11), now, "Europe/Berlin")


def test_factor_names_are_cleaned_and_checked() -> None:
    assert diary.clean_factor_name("  Mag\u200bnesium\t\n ") == "Mag nesium"
    assert diary.clean_factor_name("Yo\x00ga\x1b") == "Yo ga"
    docs = [own(1, "Magnesium"), own(2, "Physio", archived=True)]
    assert diary.factor_name_problem("", docs, BUILTIN) == "empty"
    assert diary.factor_name_problem("x" * 31, docs, BUILTIN) == "too_long"
    assert diary.factor_name_problem("x" * 30, docs, BUILTIN) is None
    assert diary.factor_name_problem("MAGNESIUM", docs, BUILTIN) == "duplicate"
    assert diary.factor_name_problem("cold", docs, BUILTIN) == "duplicate"
    assert diary.factor_name_problem("physio", docs, BUILTIN) is None  # archived: free again
    assert diary.factor_name_problem("Magnesium", docs, BUILTIN, renaming=1) is None
    eight = [own(i, f"F{i}") for i in range(1, 9)]
    assert diary.factor_name_problem("Ninth", eight, BUILTIN) == "too_many"
    assert diary.factor_name_problem("Renamed", eight, BUILTIN, renaming=3) is None


def test_visible_factors_own_first_at_most_eight_and_hidden_ones_left_out() -> None:
    docs = [own(2, "Yoga", position=1), own(1, "Magnesium", position=0), own(3, "Old", 2, True)]
    shown = diary.visible_factors(BUILTIN, docs, hidden=["cold"])
    assert [f.id for f in shown] == ["own_1", "own_2", "slept_badly"]
    many = [own(i, f"F{i}", position=i) for i in range(1, 9)]
    assert [f.id for f in diary.visible_factors(BUILTIN, many)] == [f"own_{i}" for i in range(1, 9)]
    assert diary.own_doc_id("own_12") == 12 and diary.own_doc_id("cold") is None


def test_move_up_reorders_only_active_factors() -> None:
    docs = [own(1, "A", 0), own(2, "B", 1), own(3, "C", 2, archived=True), own(4, "D", 3)]
    assert diary.move_up(docs, 4) == {1: 0, 4: 1, 2: 2}
    assert diary.move_up(docs, 1) == {1: 0, 2: 1, 4: 2}
    assert diary.move_up(docs, 3) == {}


def test_set_factor_is_idempotent_and_keeps_the_shown_order() -> None:
    record = {"factors": [], "offered": ["own_1", "cold"]}
    changes = diary.set_factor(record, "cold", True, ["own_1", "cold"])
    assert changes == {"factors": ["cold"]}
    record.update(changes)
    assert diary.set_factor(record, "cold", True, ["own_1", "cold"]) == {}
    both = diary.set_factor(record, "own_1", True, ["own_1", "cold"])
    assert both == {"factors": ["own_1", "cold"]}
    assert diary.set_factor(record, "cold", False, ["own_1", "cold"]) == {"factors": []}


def test_seven_unanswered_evenings_then_one_question_then_quiet() -> None:
    profile: dict = {}
    days: list[dict] = []
    outcomes = []
    for offset in range(10):
        day = date(2026, 6, 1 + offset)
        outcome, changes = diary.push_outcome(profile, days, day)
        profile.update(changes)
        outcomes.append(outcome)
    assert outcomes == ["diary"] * 7 + ["ask_fit", "quiet", "quiet"]
    # Answering any day makes the evening check welcome again.
    profile.update(diary.ANSWERED)
    days.append({"date": "2026-06-11"})
    assert diary.push_outcome(profile, days, date(2026, 6, 12))[0] == "diary"


def test_an_answered_day_resets_the_count_and_a_recorded_day_gets_no_push() -> None:
    profile: dict = {"diary_last_push": "2026-06-05", "diary_unanswered": 6}
    days = [{"date": "2026-06-05"}]
    outcome, changes = diary.push_outcome(profile, days, date(2026, 6, 6))
    assert outcome == "diary" and changes["diary_unanswered"] == 0
    days.append({"date": "2026-06-06"})
    assert diary.push_outcome(profile, days, date(2026, 6, 6))[0] == "recorded"


def test_recorded_this_month_counts_days_not_streaks() -> None:
    days = [{"date": "2026-06-01"}, {"date": "2026-06-09"}, {"date": "2026-05-31"}]
    assert diary.recorded_this_month(days, date(2026, 6, 10)) == 2
