"""The evening check as a daily push: what to send (decided and recorded in one unit of work)
and how it reads. The push scheduler decides *when* (the person's local ``diary_time``, at most
once per local date, catch-up within the evening, quiet hours unless chosen inside them).

What is sent (``bot.domain.diary.push_outcome``): the diary message for today (or, before
03:00, for yesterday); nothing if today is already recorded; after a week of unanswered
evenings, once, the question whether the time still suits; then nothing until they answer a
day or change a setting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.domain import diary
from bot.domain.diary import Factor
from bot.storage import UserData
from bot.telegram.context import Services
from bot.telegram.diary import reminder
from bot.telegram.diary.day import ASK, DayView, load_view, render
from bot.telegram.insights.shared import zone_of


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
