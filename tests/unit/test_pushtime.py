"""The rules every daily push shares (bot/domain/pushtime.py): DST, odd zones, quiet hours,
catch-up, pauses, weekly pushes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.domain import zones
from bot.domain.pushtime import (
    Decision,
    Rule,
    Verdict,
    next_check,
    period_key,
    slot_instant,
    verdict,
)


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
def test_an_0800_push_stays_at_0800_local_across_dst(
    zone: str, day: date, expected_utc: datetime
) -> None:
    instant = slot_instant(day, time(8, 0), zone)
    assert instant == expected_utc
    local = instant.astimezone(zones.zone(zone))
    assert (local.date(), local.time()) == (day, time(8, 0))


def test_next_check_walks_over_the_dst_change_one_local_day_at_a_time() -> None:
    # Sent on Saturday 28 March at 08:00 Berlin (07:00 UTC): next is Sunday 08:00 = 06:00 UTC,
    # 23 hours later, not 24.
    sent_at = utc(2026, 3, 28, 7, 0, 5)
    nxt = next_check(sent_at, "Europe/Berlin", Rule(time(8)), last_key="2026-03-28")
    assert nxt == utc(2026, 3, 29, 6)
    nxt = next_check(utc(2026, 10, 24, 6, 0, 5), "Europe/Berlin", Rule(time(8)))
    assert nxt == utc(2026, 10, 25, 7)  # 25 hours later on the fall-back day
    nxt = next_check(utc(2026, 3, 7, 13, 1), "America/New_York", Rule(time(8)))
    assert nxt == utc(2026, 3, 8, 12)


def test_a_time_inside_the_spring_gap_moves_forward_by_the_gap() -> None:
    instant = slot_instant(date(2026, 3, 29), time(2, 30), "Europe/Berlin")
    assert instant == utc(2026, 3, 29, 1, 30)  # = 03:30 CEST
    assert instant.astimezone(zones.zone("Europe/Berlin")).time() == time(3, 30)
    instant = slot_instant(date(2026, 3, 8), time(2, 30), "America/New_York")
    assert instant.astimezone(zones.zone("America/New_York")).time() == time(3, 30)


def test_a_time_that_happens_twice_is_served_once() -> None:
    first = slot_instant(date(2026, 10, 25), time(2, 30), "Europe/Berlin")
    assert first == utc(2026, 10, 25, 0, 30)  # 02:30 CEST, the first of the two
    decision = verdict(first, "Europe/Berlin", Rule(time(2, 30)))
    assert decision.verdict is Verdict.SEND
    second = utc(2026, 10, 25, 1, 30)  # 02:30 CET, an hour later
    again = verdict(second, "Europe/Berlin", Rule(time(2, 30)), decision.key)
    assert again.verdict is Verdict.ALREADY_SENT


def test_the_local_date_is_the_users_not_utcs() -> None:
    # 05:00 in Kathmandu is 23:15 UTC the day before.
    now = utc(2026, 3, 28, 23, 15, 30)
    decision = verdict(now, "Asia/Kathmandu", Rule(time(5)))
    assert decision == Decision(Verdict.SEND, date(2026, 3, 29), "2026-03-29")
    assert verdict(now, "Asia/Kathmandu", Rule(time(5)), "2026-03-29").verdict is (
        Verdict.ALREADY_SENT
    )
    # Kolkata 23:50 tip: just before midnight local, 18:20 UTC.
    assert slot_instant(date(2026, 3, 29), time(23, 50), "Asia/Kolkata") == utc(2026, 3, 29, 18, 20)


# ---------------------------------------------------------------------------- due rule


BERLIN = "Europe/Berlin"


def berlin(hour: int, minute: int = 0, days: int = 0) -> datetime:
    """Wednesday 10 June 2026 (summer: UTC+2), or `days` later."""
    return utc(2026, 6, 10, hour - 2, minute) + timedelta(days=days)


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
    assert verdict(now, BERLIN, Rule(tip)).verdict is expected


def test_never_twice_a_day_and_pauses_hold() -> None:
    rule = Rule(time(8))
    assert verdict(berlin(9), BERLIN, rule, "2026-06-10").verdict is Verdict.ALREADY_SENT
    assert verdict(berlin(9), BERLIN, rule, "2026-06-09").verdict is Verdict.SEND
    assert verdict(berlin(9), BERLIN, rule, 20260610).verdict is Verdict.SEND  # not a marker
    paused = berlin(12)
    assert verdict(berlin(8), BERLIN, rule, None, paused).verdict is Verdict.PAUSED
    # The pause ends before tomorrow's tip: tomorrow's is the next one.
    assert next_check(berlin(8), BERLIN, rule, paused_until=paused) == berlin(8, days=1)


def test_next_check_catches_up_only_when_asked_and_only_the_same_day() -> None:
    now = berlin(9)
    assert next_check(now, BERLIN, Rule(time(8))) == berlin(8, days=1)
    assert next_check(now, BERLIN, Rule(time(8)), catch_up=timedelta(hours=3)) == now
    # Yesterday's 23:00 tip is not caught up at 00:30 today.
    just_after_midnight = utc(2026, 6, 10, 22, 30)  # 00:30 on 11 June in Berlin
    at = next_check(just_after_midnight, BERLIN, Rule(time(23)), catch_up=timedelta(hours=3))
    assert at == utc(2026, 6, 11, 21)



def test_a_late_push_after_midnight_is_for_the_new_day() -> None:
    # A 23:50 push missed by a restart at 00:10: yesterday's is over, today's comes at 23:50.
    after_midnight = utc(2026, 6, 10, 22, 10)  # 00:10 on 11 June in Berlin
    decision = verdict(after_midnight, BERLIN, Rule(time(23, 50)))
    assert decision.verdict is Verdict.NOT_YET and decision.key == "2026-06-11"


# ---------------------------------------------------------------------------- weekly pushes

SUNDAY_18 = Rule(time(18), weekday=7)


def test_a_weekly_push_is_due_on_its_weekday_only_and_once_per_iso_week() -> None:
    sunday = berlin(18, 10, days=4)  # Sunday 14 June, ISO week 24
    assert period_key(sunday.date(), weekly=True) == "2026-W24"
    assert verdict(berlin(18, 10), BERLIN, SUNDAY_18).verdict is Verdict.NOT_YET  # Wednesday
    decision = verdict(sunday, BERLIN, SUNDAY_18)
    assert decision.verdict is Verdict.SEND and decision.key == "2026-W24"
    assert verdict(sunday, BERLIN, SUNDAY_18, "2026-W24").verdict is Verdict.ALREADY_SENT
    assert verdict(sunday, BERLIN, SUNDAY_18, "2026-W23").verdict is Verdict.SEND
    # From Wednesday the next look is Sunday 18:00; once sent, the Sunday after.
    assert next_check(berlin(9), BERLIN, SUNDAY_18) == berlin(18, days=4)
    assert next_check(sunday, BERLIN, SUNDAY_18, last_key="2026-W24") == berlin(18, days=11)


def test_a_weekly_push_catches_up_until_its_window_ends() -> None:
    rule = Rule(time(18), weekday=7, catch_up=timedelta(hours=3))
    assert verdict(berlin(20, 59, days=4), BERLIN, rule).verdict is Verdict.SEND
    assert verdict(berlin(21, 1, days=4), BERLIN, rule).verdict is Verdict.TOO_LATE
    # After downtime at 21:30 the rebuild skips this Sunday: next Sunday.
    at = next_check(berlin(21, 30, days=4), BERLIN, rule, catch_up=rule.catch_up)
    assert at == berlin(18, days=11)


def test_iso_week_keys_order_across_the_new_year() -> None:
    assert period_key(date(2026, 12, 31), weekly=True) == "2026-W53"
    assert period_key(date(2027, 1, 4), weekly=True) == "2027-W01"
    rule = Rule(time(18), weekday=7)
    sunday = utc(2027, 1, 10, 17, 30)  # 18:30 in Berlin, ISO week 2027-W01
    assert verdict(sunday, BERLIN, rule, "2026-W53").verdict is Verdict.SEND


def test_a_weekly_push_on_the_dst_sunday_keeps_its_local_time() -> None:
    # Berlin falls back on Sunday 25 October 2026: 18:00 CET is 17:00 UTC.
    assert next_check(utc(2026, 10, 21, 12), BERLIN, SUNDAY_18) == utc(2026, 10, 25, 17)
    assert next_check(utc(2026, 3, 25, 12), BERLIN, SUNDAY_18) == utc(2026, 3, 29, 16)


def test_a_pause_over_a_weekly_slot_moves_it_a_week() -> None:
    paused = berlin(20, days=5)  # until Monday: this Sunday falls inside the pause
    at = next_check(berlin(9), BERLIN, SUNDAY_18, paused_until=paused)
    assert at == berlin(18, days=11)
