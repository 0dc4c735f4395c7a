"""When a daily push is due: the pure rules every push shares (morning tip, Sunday summary,
evening checks, the diary). No Telegram, no storage: plain values and an explicit "now", so the
rules are unit-tested across DST changes and odd zones (`tests/unit/test_pushtime.py`).

* **Slot.** A push has a local wall-clock time in the person's IANA zone (and for a weekly push,
  an ISO weekday). On each local date its instant is that wall time in the zone *on that date*,
  so 08:00 stays 08:00 across DST. A time that does not exist that day (spring forward) moves
  forward by the gap (02:30 -> 03:30); a time that happens twice (fall back) counts once, at
  its first occurrence.
* **Period.** At most one push per local date, or per ISO week for a weekly push. The period's
  key (`period_key`: "2026-06-10", or "2026-W24") is the claim marker the scheduler stores in
  the same atomic write that prepares the push, before sending (`bot.pushes`).
* **Late.** Up to ON_TIME late (queueing at the rate limit) counts as on time. Later than that
  (the bot was down, or an error is being retried) the push still goes out if it is at most
  `catch_up` late, still the same local date, and not in quiet hours (QUIET_START-QUIET_END),
  unless the chosen time is itself inside quiet hours. Otherwise that period's push is skipped.
* **Pause.** A slot before `paused_until` is skipped (the next slot after the pause counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache

from bot.domain.zones import zone

QUIET_START = time(22, 0)
QUIET_END = time(7, 0)
ON_TIME = timedelta(minutes=15)
CATCH_UP = timedelta(hours=3)
# How far ahead a slot is looked for: a weekly slot after a pause of up to 7 days.
_HORIZON_DAYS = 16


@dataclass(frozen=True, slots=True)
class Rule:
    """One push's timing for one person."""

    at: time  # local wall-clock time
    weekday: int | None = None  # ISO weekday (1 Monday .. 7 Sunday) for a weekly push
    catch_up: timedelta = CATCH_UP  # how late after downtime it may still go out

    @property
    def weekly(self) -> bool:
        return self.weekday is not None


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(t: time) -> bool:
    return t >= QUIET_START or t < QUIET_END


def local_date(now: datetime, zone_name: str) -> date:
    return now.astimezone(zone(zone_name)).date()


def period_key(day: date, weekly: bool = False) -> str:
    """The claim marker of the period holding local date `day`."""
    if not weekly:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def served(last_key: object, key: str) -> bool:
    """Whether a stored marker covers this period (or a later one: the clock went back)."""
    return isinstance(last_key, str) and len(last_key) == len(key) and last_key >= key


@lru_cache(maxsize=65536)
def slot_instant(day: date, at: time, zone_name: str) -> datetime:
    """The UTC instant of wall time `at` on local date `day` (see the module docstring)."""
    local = datetime.combine(day, at, tzinfo=zone(zone_name))  # fold=0: first occurrence
    # In a gap, fold=0 uses the offset from before the change, which lands after the gap:
    # 02:30 on Berlin's spring-forward day becomes 01:30 UTC = 03:30 CEST.
    return local.astimezone(UTC)


class Verdict(Enum):
    SEND = "send"
    NOT_YET = "not_yet"  # today's slot is still to come, or today has no slot
    ALREADY_SENT = "already_sent"
    PAUSED = "paused"
    TOO_LATE = "too_late"  # missed by more than catch_up, or the day is over
    QUIET = "quiet"  # a late catch-up would land in quiet hours


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    day: date  # the person's local date "now"
    key: str  # its period key


def verdict(
    now: datetime,
    zone_name: str,
    rule: Rule,
    last_key: object = None,
    paused_until: datetime | None = None,
    *,
    on_time: timedelta = ON_TIME,
) -> Decision:
    """Should this period's push go out at `now`? (The rules are in the module docstring.)"""
    local_now = now.astimezone(zone(zone_name))
    today = local_now.date()
    key = period_key(today, rule.weekly)
    if served(last_key, key):
        return Decision(Verdict.ALREADY_SENT, today, key)
    if rule.weekday is not None and today.isoweekday() != rule.weekday:
        return Decision(Verdict.NOT_YET, today, key)
    due = slot_instant(today, rule.at, zone_name)
    if paused_until is not None and due < paused_until:
        return Decision(Verdict.PAUSED, today, key)
    if now < due:
        return Decision(Verdict.NOT_YET, today, key)
    late = now - due
    if late <= on_time:
        return Decision(Verdict.SEND, today, key)
    if late > rule.catch_up:
        return Decision(Verdict.TOO_LATE, today, key)
    if in_quiet_hours(local_now.time()) and not in_quiet_hours(rule.at):
        return Decision(Verdict.QUIET, today, key)
    return Decision(Verdict.SEND, today, key)


def next_check(
    now: datetime,
    zone_name: str,
    rule: Rule,
    *,
    last_key: object = None,
    paused_until: datetime | None = None,
    catch_up: timedelta = timedelta(0),
) -> datetime:
    """When the scheduler should next look at this person for this push.

    The first slot that is not before `now - catch_up`, not in a period already served and not
    inside a pause. A past slot (catch-up after a restart) comes back as `now`. `catch_up` is 0
    for live changes: a new time means "from its next occurrence"; the start-up rebuild passes
    the rule's own window.
    """
    start = paused_until if paused_until is not None and paused_until > now else now
    today = local_date(now, zone_name)
    first = local_date(start, zone_name) - timedelta(days=1)  # yesterday's slot may be in reach
    for offset in range(_HORIZON_DAYS):
        day = first + timedelta(days=offset)
        if day < today or (rule.weekday is not None and day.isoweekday() != rule.weekday):
            continue
        if served(last_key, period_key(day, rule.weekly)):
            continue
        due = slot_instant(day, rule.at, zone_name)
        if paused_until is not None and due < paused_until:
            continue
        if due >= now - catch_up:
            return max(due, now)
    # Unreachable for real zones (a slot exists on every date); a safe fallback.
    return now + timedelta(days=1)
