"""The proactive evening messages, as kinds of the one push scheduler (`bot.pushes`), which
handles the person's local time, catch-up, quiet hours and "never twice":

* ``weekly``: the Sunday summary, opt-in (`weekly_summary`), on Sunday from WEEKLY_AT local
  until WEEKLY_AT + WEEKLY_CATCH_UP (21:00), at most once per ISO week (`weekly_sent_week`).
  The chart photo and the summary text are one push, claimed before either is sent.
* ``evening_checks``: from EVENING_AT local until EVENING_AT + EVENING_CATCH_UP (18:00-19:00),
  at most once per local date (`evening_checks_date`): the "please see a GP" note
  when the persistence rule holds, at most every GP_NOTE_DAYS days (`gp_prompted_at`), and the
  red-flag check again RECHECK_DAYS after it was last offered (`redflag_offered_at`).

Both windows end before quiet hours (22:00), so neither is ever sent at night.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.domain import insights as stats
from bot.domain import safety
from bot.pushes import Outgoing, PushKind
from bot.storage import UserData
from bot.telegram.context import Services
from bot.telegram.insights.redflags import offer_message, record_offer
from bot.telegram.insights.shared import EPISODES, RUNS, zone_of
from bot.telegram.insights.week import week_parts_of, weekly_button
from bot.telegram.safety import safety_content

WEEKLY_AT = time(18, 0)  # Sunday evening, local
WEEKLY_CATCH_UP = timedelta(hours=3)  # until 21:00
EVENING_AT = time(18, 0)  # the red-flag re-check and the GP note
EVENING_CATCH_UP = timedelta(hours=1)  # until 19:00
GP_NOTE_DAYS = 30


@dataclass(frozen=True)
class WeeklySummary:
    chart: bytes | None  # None with too little data: then the text says so kindly
    text: str


def weekly_kind(services: Services) -> PushKind[WeeklySummary]:
    content, codec = services.content, services.codec

    def local_time(entry: Mapping[str, Any]) -> time | None:
        return WEEKLY_AT if entry.get("weekly_summary") else None

    def prepare(data: UserData, now: datetime, _day: date) -> WeeklySummary | None:
        profile = data.profile()
        if not (profile or {}).get("onboarded"):
            return None
        episodes, runs = data.all(EPISODES), data.all(RUNS)
        return WeeklySummary(*week_parts_of(content, profile, episodes, runs, now))

    def render(uid: int, summary: WeeklySummary) -> list[Outgoing]:
        messages = []
        if summary.chart is not None:
            intro = content.t("insights.weekly_push_intro")
            messages.append(Outgoing(intro, photo=summary.chart))
        markup = weekly_button(content.t, codec.encode, uid, True)
        messages.append(Outgoing(summary.text, markup))
        return messages

    return PushKind(
        name="weekly",
        marker="weekly_sent_week",
        fields=("weekly_summary",),
        local_time=local_time,
        prepare=prepare,
        render=render,
        weekday=7,
        catch_up=WEEKLY_CATCH_UP,
        opt_in=lambda _at: {"weekly_summary": True},
    )


@dataclass(frozen=True)
class EveningChecks:
    gp_note: str | None
    red_flag_token: str | None  # a new red-flag check session, when one is offered


def evening_checks_kind(services: Services) -> PushKind[EveningChecks]:
    codec = services.codec

    def prepare(data: UserData, now: datetime, _day: date) -> EveningChecks | None:
        profile = data.profile() or {}
        if not profile.get("onboarded"):
            return None
        gp_note = None
        gp_at = stats.parse_instant(profile.get("gp_prompted_at"))
        if gp_at is None or now - gp_at >= timedelta(days=GP_NOTE_DAYS):
            flags = stats.persistence_flags(data.all(EPISODES), zone_of(profile), now)
            if flags:
                gp_note = safety_content().gp_note(flags)
                data.update_profile({"gp_prompted_at": now.isoformat()})
        token = None
        offered = stats.parse_instant(
            profile.get("redflag_offered_at") or profile.get("created_at")
        )
        if safety.recheck_due(offered, now):
            token = record_offer(data, now)
        if gp_note is None and token is None:
            return None
        return EveningChecks(gp_note, token)

    def render(uid: int, checks: EveningChecks) -> list[Outgoing]:
        messages = []
        if checks.gp_note is not None:
            messages.append(Outgoing(checks.gp_note))
        if checks.red_flag_token is not None:
            text, keyboard = offer_message(codec, uid, checks.red_flag_token)
            messages.append(Outgoing(text, keyboard))
        return messages

    return PushKind(
        name="evening_checks",
        marker="evening_checks_date",
        fields=(),
        local_time=lambda _entry: EVENING_AT,
        prepare=prepare,
        render=render,
        catch_up=EVENING_CATCH_UP,
        opt_in=lambda _at: {},
    )


def register(services: Services) -> None:
    services.pushes.register(weekly_kind(services))
    services.pushes.register(evening_checks_kind(services))
