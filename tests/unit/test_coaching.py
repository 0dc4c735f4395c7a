"""Pure coaching logic: when a tip is due (DST, odd offsets, quiet hours), which tip comes next."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path

import pytest

from bot.domain import coaching
from bot.domain.coaching import (
    TOPICS,
    SentTip,
    Tip,
    TipLibrary,
    Verdict,
    choose_tip,
    load_tip_library,
    next_check,
    tip_instant,
    topic_weights,
    verdict,
)
from bot.scheduling import DueIndex, schedule_of

CONTENT = Path(__file__).resolve().parents[2] / "content" / "tips"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------- DST and zones


@pytest.mark.parametrize(
    ("zone", "day", "expected_utc"),
    [
        # Berlin springs forward on Sun 29 March 2026 (02:00 -> 03:00) ...
        ("Europe/Berlin", date(2026, 3, 28), utc(2026, 3, 28, 7)),
        ("Europe/Berlin", date(2026, 3, 29), utc(2026, 3, 29, 6)),
        ("Europe/Berlin", date(2026, 3, 30), utc(2026, 3, 30, 6)),
        # ... and falls back on Sun 25 October 2026 (03:00 -> 02:00).
        ("Europe/Berlin", date(2026, 10, 24), utc(2026, 10, 24, 6)),
        ("Europe/Berlin", date(2026, 10, 25), utc(2026, 10, 25, 7)),
        # New York: Sun 8 March and Sun 1 November 2026.
        ("America/New_York", date(2026, 3, 7), utc(2026, 3, 7, 13)),
        ("America/New_York", date(2026, 3, 8), utc(2026, 3, 8, 12)),
        ("America/New_York", date(2026, 10, 31), utc(2026, 10, 31, 12)),
        ("America/New_York", date(2026, 11, 1), utc(2026, 11, 1, 13)),
        # Half- and quarter-hour zones without DST.
        ("Asia/Kolkata", date(2026, 3, 29), utc(2026, 3, 29, 2, 30)),
        ("Asia/Kathmandu", date(2026, 3, 29), utc(2026, 3, 29, 2, 15)),
    ],
)
def test_a_0800_tip_stays_at_0800_local_across_dst(
    zone: str, day: date, expected_utc: datetime
) -> None:
    instant = tip_instant(day, time(8, 0), zone)
    assert instant == expected_utc
    local = instant.astimezone(coaching.zone(zone))
    assert (local.date(), local.time()) == (day, time(8, 0))


def test_next_check_walks_over_the_dst_change_one_local_day_at_a_time() -> None:
    # Sent on Saturday 28 March at 08:00 Berlin (07:00 UTC): next is Sunday 08:00 = 06:00 UTC,
    # 23 hours later, not 24.
    sent_at = utc(2026, 3, 28, 7, 0, 5)
    nxt = next_check(sent_at, "Europe/Berlin", time(8), last_tip_date=date(2026, 3, 28))
    assert nxt == utc(2026, 3, 29, 6)
    nxt = next_check(utc(2026, 10, 24, 6, 0, 5), "Europe/Berlin", time(8), last_tip_date=None)
    assert nxt == utc(2026, 10, 25, 7)  # 25 hours later on the fall-back day
    nxt = next_check(utc(2026, 3, 7, 13, 1), "America/New_York", time(8))
    assert nxt == utc(2026, 3, 8, 12)


def test_a_time_inside_the_spring_gap_moves_forward_by_the_gap() -> None:
    instant = tip_instant(date(2026, 3, 29), time(2, 30), "Europe/Berlin")
    assert instant == utc(2026, 3, 29, 1, 30)  # = 03:30 CEST
    assert instant.astimezone(coaching.zone("Europe/Berlin")).time() == time(3, 30)
    instant = tip_instant(date(2026, 3, 8), time(2, 30), "America/New_York")
    assert instant.astimezone(coaching.zone("America/New_York")).time() == time(3, 30)


def test_a_time_that_happens_twice_is_served_once() -> None:
    first = tip_instant(date(2026, 10, 25), time(2, 30), "Europe/Berlin")
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two
    decision = verdict(first, "Europe/Berlin", time(2, 30), None)
    assert decision.verdict is Verdict.SEND
    second = utc(2026, 10, 25, 1, 30)  # 02:30 CET, an hour later
    again = verdict(second, "Europe/Berlin", time(2, 30), decision.day)
    assert again.verdict is Verdict.ALREADY_SENT


def test_the_local_date_is_the_users_not_utcs() -> None:
    # 05:00 in Kathmandu is 23:15 UTC the day before.
    now = utc(2026, 3, 28, 23, 15, 30)
    decision = verdict(now, "Asia/Kathmandu", time(5), None)
    assert decision == coaching.Decision(Verdict.SEND, date(2026, 3, 29))
    assert verdict(now, "Asia/Kathmandu", time(5), date(2026, 3, 29)).verdict is (
        Verdict.ALREADY_SENT
    )
    # Kolkata 23:50 tip: just before midnight local, 18:20 UTC.
    assert tip_instant(date(2026, 3, 29), time(23, 50), "Asia/Kolkata") == utc(2026, 3, 29, 18, 20)


# ---------------------------------------------------------------------------- due rule


BERLIN = "Europe/Berlin"


def berlin(hour: int, minute: int = 0) -> datetime:
    return utc(2026, 6, 10, hour - 2, minute)  # summer: UTC+2


@pytest.mark.parametrize(
    ("now", "tip", "expected"),
    [
        (berlin(7, 59), time(8), Verdict.NOT_YET),
        (berlin(8, 0), time(8), Verdict.SEND),
        (berlin(8, 14), time(8), Verdict.SEND),  # queued at the rate limit: still on time
        (berlin(10, 30), time(8), Verdict.SEND),  # back after downtime, within 3 h
        (berlin(11, 1), time(8), Verdict.TOO_LATE),
        (berlin(22, 5), time(21, 55), Verdict.SEND),  # 10 min late is on time, even at 22:05
        (berlin(22, 30), time(21, 0), Verdict.QUIET),  # a late catch-up would be at night
        (berlin(23, 30), time(23, 0), Verdict.SEND),  # they chose a night time: allowed
        (berlin(6, 30), time(6, 0), Verdict.SEND),  # 06:00 chosen on purpose
    ],
)
def test_due_rule(now: datetime, tip: time, expected: Verdict) -> None:
    assert verdict(now, BERLIN, tip, None).verdict is expected


def test_never_twice_a_day_and_pauses_hold() -> None:
    assert verdict(berlin(9), BERLIN, time(8), date(2026, 6, 10)).verdict is Verdict.ALREADY_SENT
    assert verdict(berlin(9), BERLIN, time(8), date(2026, 6, 9)).verdict is Verdict.SEND
    paused = berlin(12)
    assert verdict(berlin(8), BERLIN, time(8), None, paused).verdict is Verdict.PAUSED
    # The pause ends before tomorrow's tip: tomorrow's is the next one.
    assert next_check(berlin(8), BERLIN, time(8), paused_until=paused) == berlin(8) + timedelta(
        days=1
    )


def test_next_check_catches_up_only_when_asked_and_only_the_same_day() -> None:
    now = berlin(9)
    assert next_check(now, BERLIN, time(8)) == berlin(8) + timedelta(days=1)
    assert next_check(now, BERLIN, time(8), catch_up=timedelta(hours=3)) == now
    # Yesterday's 23:00 tip is not caught up at 00:30 today.
    just_after_midnight = utc(2026, 6, 10, 22, 30)  # 00:30 on 11 June in Berlin
    at = next_check(just_after_midnight, BERLIN, time(23), catch_up=timedelta(hours=3))
    assert at == utc(2026, 6, 11, 21)


# ---------------------------------------------------------------------------- the index


def entry(**overrides: object) -> dict[str, object]:
    return {"tz": BERLIN, "tip_time": "08:00", "accepted": True, "active": True, **overrides}


def test_schedule_of_skips_users_without_tips() -> None:
    assert schedule_of(entry()) is not None
    assert schedule_of(entry(active=False)) is None
    assert schedule_of(entry(tips_enabled=False)) is None
    assert schedule_of(entry(accepted=False)) is None
    assert schedule_of(entry(tz="Mars/Olympus")) is None
    assert schedule_of(entry(tip_time="8 am")) is None
    assert schedule_of({"accepted": True}) is None


def test_due_index_rebuilds_and_pops_whoever_is_due() -> None:
    index = DueIndex()
    now = berlin(7, 30)
    index.rebuild(
        [
            (1, entry()),
            (2, entry(tip_time="07:00")),  # missed 30 min ago: due now (catch-up)
            (3, entry(tip_time="07:00", tz="Asia/Kolkata")),  # long past: tomorrow
            (4, entry(active=False)),
            (5, entry(tips_paused_until=(berlin(9)).isoformat())),  # paused past today's tip
        ],
        now,
        timedelta(hours=3),
    )
    assert len(index) == 4
    assert index.pop_due(now) == [2]
    assert index.pop_due(berlin(7, 59)) == []
    index.set(1, berlin(7, 45))  # an earlier time replaces the old heap item
    assert index.pop_due(berlin(8)) == [1]
    assert index.pop_due(berlin(8, 1)) == []  # the stale 08:00 item is ignored
    index.set(5, None)
    assert index.pop_due(berlin(8) + timedelta(days=2)) == [3]


# ---------------------------------------------------------------------------- choosing


def make_library(per_topic: int = 4) -> TipLibrary:
    tips = tuple(
        Tip(
            id=f"{topic[:5]}_{n:02d}",
            topic=topic,
            title=f"{topic} {n}",
            body="A gentle, concrete idea for the day ahead.",
            source="seed",
        )
        for topic in TOPICS
        for n in range(per_topic)
    )
    return TipLibrary(tips, {"seed": "x"})


def run(library: TipLibrary, picks: int, seed: int = 1, **kwargs: object) -> list[SentTip]:
    rng = random.Random(seed)
    history: list[SentTip] = []
    for _ in range(picks):
        tip = choose_tip(library, history, rng=rng, **kwargs)  # type: ignore[arg-type]
        assert tip is not None
        history.append(SentTip(tip.id, tip.topic))
    return history


def test_topics_rotate_and_never_repeat_back_to_back() -> None:
    history = run(make_library(), 10)
    assert [h.topic for h in history[:5]] == list(TOPICS)  # a plain rotation
    assert {h.topic for h in history[5:]} == set(TOPICS)
    assert all(a.topic != b.topic for a, b in pairwise(history))


def test_no_tip_repeats_before_its_topics_pool_is_used_up() -> None:
    library = load_tip_library(CONTENT)
    history = run(library, 200, seed=7)
    for topic in TOPICS:
        shown = [h.tip_id for h in history if h.topic == topic]
        pool = len(library.by_topic(topic))
        for start in range(0, len(shown) - pool + 1, pool):
            assert len(set(shown[start : start + pool])) == pool, topic
    assert len({h.tip_id for h in history[:60]}) == 60


def test_not_for_me_and_topics_off_are_respected() -> None:
    library = make_library()
    refused = {"sleep_00", "sleep_01"}
    history = run(library, 40, not_for_me=refused, topics_off={"stress"})
    assert not refused & {h.tip_id for h in history}
    assert "stress" not in {h.topic for h in history}
    assert choose_tip(library, [], topics_off=set(TOPICS)) is None
    all_ids = {t.id for t in library.tips}
    assert choose_tip(library, [], not_for_me=all_ids) is None
    # One topic left: it may follow itself.
    only = run(library, 6, topics_off=set(TOPICS) - {"pacing"})
    assert {h.topic for h in only} == {"pacing"}


def test_trigger_weights_follow_recent_check_ins() -> None:
    now = utc(2026, 6, 10, 8)
    recent = (now - timedelta(days=2)).isoformat()
    old = (now - timedelta(days=30)).isoformat()
    episodes = [
        *({"started_at": recent, "triggers": ["poor_sleep"]} for _ in range(5)),
        {"started_at": recent, "triggers": ["overdid_it", "low_fluids"]},
        {"started_at": recent, "triggers": ["skipped_meal", "not_sure"]},
        {"started_at": old, "triggers": ["stress", "stress"]},  # too old to count
        {"started_at": "yesterday", "triggers": ["stress"]},  # unreadable: ignored
        {"started_at": recent},  # no triggers at all
    ]
    weights = topic_weights(episodes, now)
    assert weights == {
        "sleep": 4,  # 5 hits, capped at 3
        "stress": 1,
        "hydration_electrolytes": 3,
        "pacing": 2,
        "movement": 1,
    }
    assert topic_weights([], now, helpful_topics={"movement"})["movement"] == 2


def test_weighted_topics_come_up_more_often_but_all_still_rotate() -> None:
    weights = {"sleep": 4, "stress": 1, "hydration_electrolytes": 1, "pacing": 2, "movement": 1}
    history = run(make_library(8), 60, weights=weights)
    counts = Counter(h.topic for h in history)
    assert counts.most_common(1)[0][0] == "sleep"
    assert counts["sleep"] >= 2 * counts["stress"]
    assert counts["pacing"] > counts["movement"]
    assert set(counts) == set(TOPICS), "every topic still appears"
    assert all(a.topic != b.topic for a, b in pairwise(history))


# ---------------------------------------------------------------------------- the claim


def test_claim_records_the_day_before_sending_and_never_twice(tmp_path: Path) -> None:
    from bot.scheduling import claim
    from bot.storage import FileStore

    library = load_tip_library(CONTENT)
    rng = random.Random(3)
    with FileStore(tmp_path, fsync=False) as store:
        store.save_profile_sync(1, entry())
        first = store.transact_sync(1, lambda db: claim(db, berlin(8), library, rng))
        assert first.tip is not None and first.history_id == 1
        assert first.next_at == berlin(8) + timedelta(days=1)
        assert store.get_profile_sync(1)["last_tip_date"] == "2026-06-10"  # type: ignore[index]
        again = store.transact_sync(1, lambda db: claim(db, berlin(8, 5), library, rng))
        assert again.tip is None and again.next_at == berlin(8) + timedelta(days=1)
        # Everything switched off: the day is used up, nothing is sent, nothing recorded.
        store.save_profile_sync(2, entry(tips_topics_off=list(TOPICS)))
        none = store.transact_sync(2, lambda db: claim(db, berlin(8), library, rng))
        assert none.tip is None and len(store.all_sync(2, "tips")) == 0
        # Blocked users are not claimed and leave the schedule.
        store.save_profile_sync(3, entry(active=False))
        assert store.transact_sync(3, lambda db: claim(db, berlin(8), library, rng)).next_at is None
