"""The user profile: one small document per user, the source of truth for their settings."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

DEFAULT_TIP_TIME = "08:00"


class Profile(TypedDict, total=False):
    """What we keep about a person (see also /privacy). Instants are ISO-8601 strings in UTC.

    user_id      Telegram user id (also their private chat id).
    created_at   when they first sent /start.
    accepted     True once they tapped "I understand" on the not-medical-advice note.
    accepted_at  when they did.
    tz           IANA time zone name, e.g. "Europe/Berlin"; absent until chosen.
    tip_time     local "HH:MM" for the morning tip; absent until chosen.
    onboarded    True once time zone and tip time are set and the menu was shown.
    active       False after Telegram told us they blocked the bot; /start sets it back.
    weekly_summary     True if they opted in to the Sunday-evening summary (insights).
    weekly_sent_week   ISO week ("2026-W48", local) of the last Sunday summary (set before
                       sending, like every push's marker: see bot/pushes.py).
    evening_checks_date  local "YYYY-MM-DD" of the last evening GP note / red-flag re-check.
    redflag_offered_at when the red-flag check was last offered (answered or skipped).
    gp_prompted_at     when the "please see a GP" note was last sent.
    relief_followup_minutes
                 minutes between the end of a relief routine and "how is it now?" (5-30;
                 absent = 10). Set from the routine's end message.
    relief_timer_due
                 the latest instant a relief timer (hold or follow-up) was set for; the
                 start-up rebuild only reads the files of people whose timer may be pending.
    last_tip_date        local "YYYY-MM-DD" of the last morning tip (set before sending).
    tips_paused_until    ISO UTC instant until which morning tips are paused, or None.
    tips_enabled         False when they switched morning tips off in /tips (absent = on).
    tips_topics_off      tip topics they switched off (ids from bot.domain.coaching.TOPICS).
    tips_not_for_me      tip ids they marked "not for me": never shown again.
    """

    user_id: int
    created_at: str
    accepted: bool
    accepted_at: str
    tz: str
    tip_time: str
    onboarded: bool
    active: bool
    weekly_summary: bool
    weekly_sent_week: str
    evening_checks_date: str
    redflag_offered_at: str
    gp_prompted_at: str
    relief_followup_minutes: int
    relief_timer_due: str
    last_tip_date: str
    tips_paused_until: str | None
    tips_enabled: bool
    tips_topics_off: list[str]
    tips_not_for_me: list[str]


def new_profile(user_id: int, now: datetime) -> Profile:
    return Profile(user_id=user_id, created_at=now.isoformat(), accepted=False, active=True)


def next_onboarding_step(profile: Profile | None) -> str | None:
    """Which onboarding question is still open: 'accept', 'tz', 'tip_time', or None when done."""
    if not profile or not profile.get("accepted"):
        return "accept"
    if not profile.get("tz"):
        return "tz"
    if not profile.get("tip_time"):
        return "tip_time"
    return None
