"""Proactive evening messages, from one repeating job (``run_due``, every ``TICK_SECONDS``).

They only go out in the person's local evening, never in quiet hours (``QUIET_FROM`` to the next
morning):
* the weekly summary, opt-in, on Sunday from ``WEEKLY_FROM`` local, once per ISO week;
* the red-flag check again when it was last offered ``RECHECK_DAYS`` ago;
* the "please see a GP" note when the persistence rule holds, at most every
  ``GP_NOTE_DAYS`` days.
The daily checks run in the ``DAILY_HOUR`` local hour, so each tick only opens a small share of
the user files.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, time, timedelta
from typing import Any

from telegram import Bot
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application

from bot.domain import insights as stats
from bot.domain import safety
from bot.domain.zones import local_now
from bot.storage import Store
from bot.telegram.context import CoachContext, services_of
from bot.telegram.delivery import deliver, mark_inactive
from bot.telegram.insights.redflags import red_flag_offer
from bot.telegram.insights.shared import EPISODES, zone_of
from bot.telegram.insights.week import week_parts, weekly_button
from bot.telegram.safety import safety_content

log = logging.getLogger(__name__)

TICK_SECONDS = 15 * 60
WEEKLY_FROM = time(18, 0)  # Sunday evening, local
DAILY_HOUR = 18  # the local hour in which the red-flag recheck and GP note are considered
QUIET_FROM = time(21, 0)  # nothing proactive from here until the next day's window
GP_NOTE_DAYS = 30
JOB_NAME = "insights.tick"

App = Application[Any, Any, Any, Any, Any, Any]


def _iso_week(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


async def _send_photo(bot: Bot, store: Store, user_id: int, png: bytes, caption: str) -> bool:
    try:
        await bot.send_photo(user_id, png, caption=caption)
    except Forbidden:
        await mark_inactive(store, user_id)
        return False
    except BadRequest as exc:
        if "chat not found" in str(exc).lower():
            await mark_inactive(store, user_id)
            return False
        raise
    return True


async def _due_for_user(app: App, user_id: int, local: datetime, now: datetime) -> list[str]:
    """Send what is due for one person; returns what was sent (for logs and tests)."""
    services = services_of(app)
    store, t = services.store, services.content.t
    profile = await store.get_profile(user_id)
    if not profile or not profile.get("onboarded") or profile.get("active") is False:
        return []
    sent: list[str] = []
    week = _iso_week(local)
    if (
        profile.get("weekly_summary")
        and local.isoweekday() == 7
        and local.time() >= WEEKLY_FROM
        and profile.get("weekly_sent_week") != week
    ):
        png, text, _ = await week_parts(services, user_id)
        ok = True
        if png is not None:
            ok = await _send_photo(app.bot, store, user_id, png, t("insights.weekly_push_intro"))
        if ok:
            markup = weekly_button(t, services.codec.encode, user_id, True)
            if await deliver(app.bot, store, user_id, text, reply_markup=markup):
                await store.update_profile(user_id, {"weekly_sent_week": week})
                sent.append("weekly")
    if local.hour != DAILY_HOUR:
        return sent
    words = safety_content()
    gp_at = stats.parse_instant(profile.get("gp_prompted_at"))
    if gp_at is None or now - gp_at >= timedelta(days=GP_NOTE_DAYS):
        episodes = await store.all(user_id, EPISODES)
        flags = stats.persistence_flags(episodes, zone_of(profile), now)
        if flags:
            text = words.gp_note(flags)
            # Recorded first: a GP note is worth less than never sending it twice.
            await store.update_profile(user_id, {"gp_prompted_at": now.isoformat()})
            if await deliver(app.bot, store, user_id, text):
                sent.append("gp_note")
    offered = stats.parse_instant(profile.get("redflag_offered_at") or profile.get("created_at"))
    if safety.recheck_due(offered, now):
        text, keyboard = await red_flag_offer(services, user_id)
        if await deliver(app.bot, store, user_id, text, reply_markup=keyboard):
            sent.append("red_flags")
    return sent


async def run_due(app: App) -> dict[int, list[str]]:
    """One pass over everyone whose local evening it is; one person's failure skips only them."""
    services = services_of(app)
    now = services.clock.now()
    entries = await asyncio.to_thread(lambda: list(services.store.index_entries()))
    done: dict[int, list[str]] = {}
    for user_id, entry in entries:
        zone = entry.get("tz")
        if not zone or not entry.get("accepted") or entry.get("active") is False:
            continue
        local = local_now(now, zone)
        if not WEEKLY_FROM.hour <= local.hour < QUIET_FROM.hour:
            continue  # outside the evening window; quiet hours start at QUIET_FROM
        if local.hour != DAILY_HOUR and local.isoweekday() != 7:
            continue  # nothing can be due: don't open the file
        try:
            sent = await _due_for_user(app, user_id, local, now)
        except Exception:
            log.exception("insights: proactive messages failed for one user")
            continue
        if sent:
            done[user_id] = sent
    return done


async def _tick(context: CoachContext) -> None:
    await run_due(context.application)


async def schedule(app: App) -> None:
    if app.job_queue is None:
        log.warning("no job queue: weekly summaries and safety re-checks are off")
        return
    app.job_queue.run_repeating(
        _tick,
        interval=TICK_SECONDS,
        first=60,
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": TICK_SECONDS, "coalesce": True},
    )
