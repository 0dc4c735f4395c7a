"""The pattern rule on synthetic diaries: finds what was planted, stays quiet on noise."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from bot.content import load_content
from bot.domain import patterns
from bot.domain.patterns import (
    MIN_GROUP_DAYS,
    benjamini_hochberg,
    fisher_greater,
)

START = date(2026, 3, 1)
SLEEP = "slept_badly"
BUILTIN = ("slept_badly", "stressful_day", "drank_little", "overdid_it", "caffeine_late", "cold")


def record(day: date, rating: int, factors: list[str], offered: list[str]) -> dict[str, Any]:
    return {"date": day.isoformat(), "rating": rating, "factors": factors, "offered": offered}


def random_diary(rng: random.Random) -> tuple[list[dict[str, Any]], list[str]]:
    """No effect at all: ratings and factors drawn independently, at rates that vary by person;
    some days go unrecorded; some own factors are added part-way through."""
    days = rng.randint(14, 60)
    own = [f"own_{i}" for i in range(rng.randint(0, 8))]
    factors = list(BUILTIN) + own
    rates = {f: rng.uniform(0.1, 0.6) for f in factors}
    added = {f: (rng.randint(0, days // 2) if f in own else 0) for f in factors}
    weights = [rng.uniform(0.2, 1.0) for _ in range(4)]
    records = []
    day = START
    while len(records) < days:
        day += timedelta(days=1 if rng.random() < 0.85 else 2)
        index = len(records)
        offered = [f for f in factors if added[f] <= index]
        ticked = [f for f in offered if rng.random() < rates[f]]
        rating = rng.choices(range(4), weights)[0]
        records.append(record(day, rating, ticked, offered))
    return records, factors


def planted_lag_diary(rng: random.Random, days: int = 30) -> list[dict[str, Any]]:
    """30 recorded days in a row; after a day with poor sleep the next day is bad (moderate or
    worse) 85 % of the time, otherwise 15 %; every other factor is noise."""
    records = []
    slept_badly_before = False
    for index in range(days):
        day = START + timedelta(days=index)
        bad = rng.random() < (0.85 if slept_badly_before else 0.15)
        rating = rng.choice((2, 3)) if bad else rng.choice((0, 1))
        ticked = [f for f in BUILTIN if f != SLEEP and rng.random() < 0.3]
        slept_badly_before = rng.random() < 0.4
        if slept_badly_before:
            ticked.append(SLEEP)
        records.append(record(day, rating, ticked, list(BUILTIN)))
    return records


def test_fisher_exact_matches_known_values() -> None:
    # The lady tasting tea: all 4 of 4 right, one-sided p = 1/70.
    assert abs(fisher_greater(4, 4, 0, 4) - 1 / 70) < 1e-12
    # Nothing to see: p = 1 when the "with" group has no bad day.
    assert fisher_greater(0, 6, 3, 12) == 1.0
    # 5 of 6 against 3 of 12 (the example): 8 bad days of 18, 6 drawn, at least 5 bad:
    # (C(8,5) C(10,1) + C(8,6) C(10,0)) / C(18,6).
    assert abs(fisher_greater(5, 6, 3, 12) - (56 * 10 + 28 * 1) / 18564) < 1e-12


def test_benjamini_hochberg_step_up() -> None:
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.5], q=0.05) == [True, False, False, False]
    assert benjamini_hochberg([0.01, 0.02, 0.03, 0.04], q=0.05) == [True, True, True, True]
    assert benjamini_hochberg([]) == []


def test_finds_a_planted_lag_effect_in_30_recorded_days() -> None:
    records = planted_lag_diary(random.Random(7))
    found = patterns.patterns(records, BUILTIN, lagged={SLEEP})
    assert found, "the planted effect was missed"
    first = found[0]
    assert first.factor == SLEEP and first.lag is True
    assert first.with_bad / first.with_days > first.without_bad / first.without_days
    assert len(found) <= patterns.MAX_FINDINGS


def test_power_on_planted_diaries() -> None:
    rng = random.Random(11)
    trials = 200
    hits = sum(
        any(
            c.factor == SLEEP and c.lag
            for c in patterns.patterns(planted_lag_diary(rng), BUILTIN, lagged={SLEEP})
        )
        for _ in range(trials)
    )
    print(f"\npattern rule power: planted lag found in {hits} of {trials} diaries of 30 days")
    assert hits / trials >= 0.8


def test_false_alarm_rate_on_random_diaries_is_at_most_5_percent() -> None:
    rng = random.Random(2026)
    trials = 600
    alarms = 0
    for _ in range(trials):
        records, factors = random_diary(rng)
        if patterns.patterns(records, factors, lagged={SLEEP}):
            alarms += 1
    rate = alarms / trials
    print(f"\npattern rule false alarms: {alarms} of {trials} random diaries ({rate:.1%})")
    assert rate <= 0.05


def test_never_reports_with_fewer_than_5_days_in_a_group() -> None:
    # A factor ticked on only 4 days, each of them a terrible day, among 40 calm days.
    rng = random.Random(3)
    records = []
    for index in range(40):
        day = START + timedelta(days=index)
        on = index % 10 == 0
        records.append(
            record(day, 3 if on else rng.choice((0, 0, 1)), ["cold"] if on else [], ["cold"])
        )
    assert sum("cold" in r["factors"] for r in records) == MIN_GROUP_DAYS - 1
    assert patterns.patterns(records, ["cold"]) == []
    assert patterns.comparisons(patterns.diary_days(records), ["cold"]) == []
    # The same with the groups swapped: only 4 days *without* it.
    flipped = [{**r, "factors": [] if r["factors"] else ["cold"]} for r in records]
    assert patterns.patterns(flipped, ["cold"]) == []
    # And with a fifth day it may report: the guard is exactly at 5.
    records.append(record(START + timedelta(days=41), 3, ["cold"], ["cold"]))
    assert patterns.patterns(records, ["cold"])


def test_says_nothing_under_14_recorded_days() -> None:
    records = planted_lag_diary(random.Random(7))
    assert patterns.patterns(records, BUILTIN, lagged={SLEEP})
    assert patterns.patterns(records[:13], BUILTIN, lagged={SLEEP}) == []


def test_days_before_a_factor_was_offered_do_not_count_as_without() -> None:
    # "Yoga" added on day 20 of 30 and ticked on every other day since.
    records = [
        record(
            START + timedelta(days=i),
            i % 4,
            ["own_1"] if i >= 20 and i % 2 == 0 else [],
            ["own_1"] if i >= 20 else [],
        )
        for i in range(30)
    ]
    [row] = patterns.factor_table(records, ["own_1"], START, START + timedelta(days=29))
    assert (row.with_days, row.without_days) == (5, 5)
    assert patterns.comparisons(patterns.diary_days(records), ["own_1"])[0].with_days == 5


def test_milder_with_the_factor_is_never_reported() -> None:
    records = []
    for index in range(30):
        on = index % 2 == 0
        records.append(
            record(START + timedelta(days=index), 0 if on else 3, ["cold"] if on else [], ["cold"])
        )
    assert patterns.patterns(records, ["cold"]) == []


def test_the_wording_shows_counts_and_doubt_and_never_says_cause() -> None:
    content = load_content()
    texts = content.messages.with_prefix("diary.pattern")
    assert texts, "pattern wording lives in content/messages/diary.en.yaml"
    for key, text in texts.items():
        assert "cause" not in text.lower(), key
    same = content.t(
        "diary.pattern_same_day",
        factor="Cold",
        with_days=6,
        with_bad=5,
        without_days=12,
        without_bad=3,
    )
    after = content.t(
        "diary.pattern_next_day",
        factor="Slept badly",
        with_days=6,
        with_bad=5,
        without_days=12,
        without_bad=3,
    )
    for text in (same, after):
        assert "6" in text and "5" in text and "12" in text and "3" in text
    assert "chance" in content.t("diary.pattern_doubt")
