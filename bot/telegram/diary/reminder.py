"""The evening check's settings: on or off, its time, a week's pause; shown from /settings and
/diary, offered at the end of onboarding, and asked again after a week without answers.

Profile fields: ``diary_enabled``, ``diary_time`` (local "HH:MM"), ``diary_paused_until`` (ISO
UTC or None), ``diary_quiet`` (True after asking whether the time still suits: no evening check
until they answer a day or change a setting).

Routes: ds.p the panel; ds.t time choices; ds.tt <HHMM> set the time; ds.ty type a time;
ds.on turn on; ds.pz pause a week; ds.rs resume; ds.off turn off. Free text: ``dy.time``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from bot.domain import diary
from bot.domain.zones import format_clock_time, local_now, parse_clock_time, zone_label
from bot.storage import Store
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.common import (
    button,
    clear_awaiting,
    edit_or_send,
    set_awaiting,
    typed_clock_time,
    user_id_of,
)
from bot.telegram.context import CoachContext
from bot.telegram.insights.shared import zone_of
from bot.telegram.keyboards import chunk, inline

TIME_INPUT = "dy.time"
EVENING_TIMES = ("18:00", "19:00", "20:00", "21:00", "22:00")
PAUSE = timedelta(days=7)
# Any choice about the evening check makes it welcome again after a quiet spell.
_FRESH = {"diary_quiet": False, "diary_unanswered": 0}


def time_keyboard(ctx: CoachContext, uid: int, route: str, type_route: str) -> InlineKeyboardMarkup:
    """Evening times as buttons (``route`` <HHMM>) and "type a time" (``type_route``)."""
    buttons = [(value, ctx.button(uid, route, value.replace(":", ""))) for value in EVENING_TIMES]
    rows = chunk(buttons, 3)
    rows.append([(ctx.t("diary.type_time_button"), ctx.button(uid, type_route))])
    return inline(rows)


def time_arg(callback: Callback) -> str:
    """ "2030" -> "20:30", or BadCallback."""
    raw = callback.arg(0)
    parsed = parse_clock_time(f"{raw[:2]}:{raw[2:]}") if len(raw) == 4 else None
    if parsed is None:
        raise BadCallback("not a time")
    return format_clock_time(parsed)


async def set_time(store: Store, uid: int, value: str) -> dict[str, Any]:
    """Turn the evening check on at ``value``; returns the new profile."""
    changes = {"diary_enabled": True, "diary_time": value, "diary_paused_until": None}
    return await store.update_profile(uid, {**changes, **_FRESH})


async def turn_off(store: Store, uid: int) -> dict[str, Any]:
    return await store.update_profile(uid, {"diary_enabled": False, **_FRESH})


def paused_until(profile: dict[str, Any], now: datetime) -> datetime | None:
    raw = profile.get("diary_paused_until")
    try:
        until = datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return until if until is not None and until > now else None


def _until_text(until: datetime, zone: str) -> str:
    return local_now(until, zone).strftime("%a %d %b, %H:%M")


def status_text(ctx: CoachContext, profile: dict[str, Any]) -> str:
    now = ctx.services.clock.now()
    zone = zone_of(profile)
    when = profile.get("diary_time", diary.DEFAULT_TIME)
    if not profile.get("diary_enabled"):
        return ctx.t("diary.status_off")
    until = paused_until(profile, now)
    if until is not None:
        return ctx.t(
            "diary.status_paused",
            until=_until_text(until, zone),
            time=when,
            zone=zone_label(zone),
        )
    return ctx.t("diary.status_on", time=when, zone=zone_label(zone))


def settings_line(ctx: CoachContext, profile: dict[str, Any]) -> str:
    """The evening check in one word or time, for /settings."""
    if profile.get("diary_enabled"):
        return ctx.t("diary.settings_line_on", time=profile.get("diary_time", diary.DEFAULT_TIME))
    return ctx.t("diary.settings_line_off")


def panel(ctx: CoachContext, uid: int, profile: dict[str, Any]) -> tuple[str, Any]:
    now = ctx.services.clock.now()
    when = profile.get("diary_time", diary.DEFAULT_TIME)
    rows: list[list[tuple[str, str]]] = []
    if not profile.get("diary_enabled"):
        rows.append([(ctx.t("diary.on_button", time=when), ctx.button(uid, "ds.on"))])
        rows.append([(ctx.t("diary.change_time_button"), ctx.button(uid, "ds.t"))])
    else:
        first = (
            (ctx.t("diary.resume_button"), ctx.button(uid, "ds.rs"))
            if paused_until(profile, now) is not None
            else (ctx.t("diary.pause_button"), ctx.button(uid, "ds.pz"))
        )
        rows.append([(ctx.t("diary.change_time_button"), ctx.button(uid, "ds.t")), first])
        rows.append([(ctx.t("diary.off_button"), ctx.button(uid, "ds.off"))])
    return ctx.t("diary.settings", status=status_text(ctx, profile)), inline(rows)


def ask_fit(ctx_t: Any, encode: Any, uid: int, when: str) -> tuple[str, InlineKeyboardMarkup]:
    """After a week of unanswered evenings: does the time still suit? (asked once)"""
    rows = [
        [(ctx_t("diary.change_time_button"), encode(uid, "ds.t"))],
        [(ctx_t("diary.pause_button"), encode(uid, "ds.pz"))],
        [(ctx_t("diary.off_button"), encode(uid, "ds.off"))],
    ]
    return ctx_t("diary.ask_fit", time=when), inline(rows)


@button
async def on_reminder_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    uid = user_id_of(update)
    store = ctx.store
    profile = await store.get_profile(uid)
    if profile is None:
        raise BadCallback("no profile")
    route = callback.route
    answer = None
    if route == "ds.t":
        await query.answer()
        keyboard = time_keyboard(ctx, uid, "ds.tt", "ds.ty")
        await edit_or_send(query, ctx.t("diary.ask_time"), reply_markup=keyboard)
        return
    if route == "ds.ty":
        await set_awaiting(ctx, uid, TIME_INPUT)
        await query.answer()
        await edit_or_send(query, ctx.t("diary.type_time_prompt"))
        return
    if route == "ds.tt":
        profile = await set_time(store, uid, time_arg(callback))
        answer = ctx.t("diary.time_set", time=profile["diary_time"])
    elif route == "ds.on":
        profile = await set_time(store, uid, profile.get("diary_time", diary.DEFAULT_TIME))
        answer = ctx.t("diary.time_set", time=profile["diary_time"])
    elif route == "ds.pz":
        until = ctx.services.clock.now() + PAUSE
        profile = await store.update_profile(
            uid, {"diary_paused_until": until.isoformat(), **_FRESH}
        )
        answer = ctx.t("diary.paused", until=_until_text(until, zone_of(profile)))
    elif route == "ds.rs":
        profile = await store.update_profile(uid, {"diary_paused_until": None, **_FRESH})
    elif route == "ds.off":
        profile = await turn_off(store, uid)
        answer = ctx.t("diary.turned_off")
    elif route != "ds.p":
        raise BadCallback("unknown route")
    await query.answer(answer)
    text, keyboard = panel(ctx, uid, profile)
    await edit_or_send(query, text, reply_markup=keyboard)


async def on_time_text(
    update: Update, ctx: CoachContext, text: str, _state: dict[str, Any]
) -> None:
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    value = await typed_clock_time(update, ctx, text, "diary.time_bad")
    if value is None:
        return
    profile = await set_time(ctx.store, uid, value)
    await clear_awaiting(ctx, uid)
    text_, keyboard = panel(ctx, uid, profile)
    confirmation = ctx.t("diary.time_set", time=profile["diary_time"])
    await message.reply_text("\n\n".join([confirmation, text_]), reply_markup=keyboard)
