"""The evening check as a daily push: what to send (decided and recorded in one unit of work)
and how it reads. The push scheduler decides *when* (the person's local ``diary_time``, at most
once per local date, catch-up within the evening, quiet hours unless chosen inside them).

What is sent (``bot.domain.diary.push_outcome``): the diary message for today (or, before
03:00, for yesterday); nothing if today is already recorded; after a week of unanswered
evenings, once, the question whether the time still suits; then nothing until they answer a
day or change a setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from bot.domain import diary
from bot.domain.diary import Factor
from bot.pushes import Outgoing, PushKind, hhmm, instant
from bot.storage import UserData
from bot.telegram.context import Services
from bot.telegram.diary import reminder
from bot.telegram.diary.day import ASK, DayView, load_view, render
from bot.telegram.diary.shared import builtin_factors
from bot.telegram.insights.shared import zone_of

MARKER = "diary_sent_date"  # the local date of the last evening check claimed (bot.pushes)


@dataclass(frozen=True)
class EveningPush:
    """What one person gets this evening: the diary for a day, or the "does it suit?" question."""

    view: DayView | None  # the diary message's day; None for the question
    time: str  # their evening-check time, for the question


def prepare(data: UserData, now: datetime, builtin: list[Factor]) -> EveningPush | None:
    """Inside the claim's unit of work: decide what to send and record it (streak, quiet)."""
    profile = data.profile()
    if not profile or not profile.get("diary_enabled"):
        return None
    day = diary.diary_date(now, zone_of(profile))
    outcome, changes = diary.push_outcome(profile, data.all(diary.DAYS_TABLE), day)
    if changes:
        data.update_profile(changes)
    when = str(profile.get("diary_time") or diary.DEFAULT_TIME)
    if outcome == "diary":
        return EveningPush(load_view(data, day, now, builtin), when)
    if outcome == "ask_fit":
        return EveningPush(None, when)
    return None  # already recorded today, or quiet after asking


def render_push(services: Services, uid: int, push: EveningPush) -> tuple[str, Any]:
    if push.view is None:
        return reminder.ask_fit(services.content.t, services.codec.encode, uid, push.time)
    return render(services, uid, push.view, ASK)


def diary_kind(services: Services) -> PushKind[EveningPush]:
    """The evening check: at ``diary_time``, every day, once switched on, unless paused or quiet
    after asking whether the time still suits."""
    builtin = builtin_factors(services.content)

    def local_time(entry: Mapping[str, Any]) -> time | None:
        if not entry.get("diary_enabled") or entry.get("diary_quiet"):
            return None
        return hhmm(entry.get("diary_time") or diary.DEFAULT_TIME)

    def prepare_push(data: UserData, now: datetime, _day: date) -> EveningPush | None:
        return prepare(data, now, builtin)  # the diary's own day: yesterday before 03:00

    def render(uid: int, push: EveningPush) -> list[Outgoing]:
        text, markup = render_push(services, uid, push)
        return [Outgoing(text, markup)]

    return PushKind(
        name="diary",
        marker=MARKER,
        fields=("diary_enabled", "diary_time", "diary_paused_until", "diary_quiet"),
        local_time=local_time,
        prepare=prepare_push,
        render=render,
        paused_until=lambda entry: instant(entry.get("diary_paused_until")),
        opt_in=lambda at: {"diary_enabled": True, "diary_time": at.strftime("%H:%M")},
    )
