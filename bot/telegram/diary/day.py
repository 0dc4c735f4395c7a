"""The diary message and /diary.

One message per day, edited in place: the one-tap question (that tap alone saves the day), then
the same message offers the day factors as toggles and Done, never a second screen. /diary shows
the last 7 days as a row; tapping a day opens the same message for that day.

Routes: dy.r <day> <rating> rate; dy.f <day> <factor> <0|1> set a factor; dy.d <day> done;
dy.c <day> change; dy.o <day> open a day from the row; dy.w the row; dy.m own factors.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from bot.domain import diary
from bot.domain.diary import Factor
from bot.domain.insights import local_day
from bot.domain.zones import local_now
from bot.storage import UserData
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext, Services
from bot.telegram.diary.factors import send_factors_panel
from bot.telegram.diary.shared import builtin_factors, day_arg, day_token, rating_label
from bot.telegram.insights.shared import EPISODES, day_label, zone_of
from bot.telegram.keyboards import chunk, inline

ASK, FACTORS, DONE = "ask", "factors", "done"


@dataclass(frozen=True)
class DayView:
    """Everything the diary message for one day shows, read in one unit of work."""

    day: date
    record: dict[str, Any] | None
    toggles: list[Factor]  # what can be ticked: visible factors plus ticked ones no longer shown
    episodes: int
    today: date  # the local calendar date now
    late_night: bool  # the day is yesterday because it's before 03:00
    month_count: int
    zone: str


def load_view(data: UserData, day: date, now: datetime, builtin: list[Factor]) -> DayView:
    profile = data.profile() or {}
    zone = zone_of(profile)
    days = data.all(diary.DAYS_TABLE)
    record = diary.find_day(days, day)
    own = data.all(diary.FACTORS_TABLE)
    toggles = diary.visible_factors(builtin, own, profile.get("diary_hidden") or ())
    if record is not None:
        labels = diary.all_factors(builtin, own)
        shown = {f.id for f in toggles}
        toggles += [
            Factor(fid, labels[fid])
            for fid in record.get("factors") or ()
            if fid in labels and fid not in shown
        ]
    episodes = sum(1 for e in data.all(EPISODES) if local_day(e, zone) == day)
    current = diary.diary_date(now, zone)
    return DayView(
        day=day,
        record=record,
        toggles=toggles,
        episodes=episodes,
        today=local_now(now, zone).date(),
        late_night=day == current and diary.is_late_night(now, zone),
        month_count=diary.recorded_this_month(days, current),
        zone=zone,
    )


def _answered(data: UserData) -> None:
    """A day was answered: the evening check is welcome again (streak of silence reset)."""
    profile = data.profile() or {}
    if any(profile.get(key, value) != value for key, value in diary.ANSWERED.items()):
        data.update_profile(dict(diary.ANSWERED))


def rate_day(
    data: UserData, day: date, rating: int, now: datetime, builtin: list[Factor]
) -> DayView:
    """Store the day's rating (the one tap that saves the day); returns the fresh view."""
    view = load_view(data, day, now, builtin)
    offered = [f.id for f in view.toggles]
    if view.record is None:
        data.insert(diary.DAYS_TABLE, diary.new_day(day, rating, now, view.zone, offered))
    else:
        changes: dict[str, Any] = {}
        if view.record.get("rating") != rating:
            changes = {"rating": rating, "updated_at": now.isoformat()}
        missing = [fid for fid in offered if fid not in (view.record.get("offered") or ())]
        if missing:
            changes["offered"] = [*(view.record.get("offered") or ()), *missing]
        if changes:
            data.update(diary.DAYS_TABLE, view.record["id"], changes)
    _answered(data)
    return load_view(data, day, now, builtin)


def set_day_factor(
    data: UserData, day: date, factor_id: str, on: bool, now: datetime, builtin: list[Factor]
) -> DayView:
    view = load_view(data, day, now, builtin)
    if view.record is None:
        raise BadCallback("the day has no rating yet")
    order = [f.id for f in view.toggles]
    if factor_id not in order:
        raise BadCallback("not a factor of this day")  # archived meanwhile, or forged
    changes = diary.set_factor(view.record, factor_id, on, order)
    if changes:
        data.update(diary.DAYS_TABLE, view.record["id"], {**changes, "updated_at": now.isoformat()})
        _answered(data)
    return load_view(data, day, now, builtin)


# ---------------------------------------------------------------------------- rendering


def _question(services: Services, view: DayView) -> list[str]:
    t = services.content.t
    lines = []
    if view.late_night:
        lines.append(t("diary.late_night", day=day_label(view.day)))
    if view.day == view.today:
        lines.append(t("diary.question"))
    else:
        lines.append(t("diary.question_day", day=day_label(view.day)))
    lines += _episodes_line(services, view)
    return lines


def _episodes_line(services: Services, view: DayView) -> list[str]:
    if not view.episodes:
        return []
    key = "diary.episodes_today" if view.day == view.today else "diary.episodes_on_day"
    return [services.content.t(key, count=view.episodes)]


def _rating_rows(services: Services, uid: int, view: DayView) -> list[list[tuple[str, str]]]:
    chosen = view.record.get("rating") if view.record else None
    token = day_token(view.day)
    buttons = [
        (
            f"✓ {choice.label}" if index == chosen else choice.label,
            services.codec.encode(uid, "dy.r", token, index),
        )
        for index, choice in enumerate(services.content.vocabulary.day_ratings)
    ]
    return chunk(buttons, 2)


def render(services: Services, uid: int, view: DayView, stage: str) -> tuple[str, Any]:
    """The text and buttons of the diary message for one day at one stage."""
    t, enc = services.content.t, services.codec.encode
    token = day_token(view.day)
    if view.record is None or stage == ASK:
        return "\n".join(_question(services, view)), inline(_rating_rows(services, uid, view))
    rating = html.escape(rating_label(services.content, view.record["rating"]))
    if stage == DONE:
        ticked = [f for f in view.toggles if f.id in (view.record.get("factors") or ())]
        if ticked:
            names = ", ".join(html.escape(f.label) for f in ticked)
            line = t(
                "diary.done_with_factors", day=day_label(view.day), rating=rating, factors=names
            )
        else:
            line = t("diary.done_plain", day=day_label(view.day), rating=rating)
        text = "\n".join([line, t("diary.month_count", count=view.month_count)])
        rows = [
            [
                (t("diary.change_button"), enc(uid, "dy.c", token)),
                (t("diary.other_days_button"), enc(uid, "dy.w")),
            ]
        ]
        return text, inline(rows)
    ticked_ids = set(view.record.get("factors") or ())
    toggles = [
        (
            f"✓ {f.label}" if f.id in ticked_ids else f.label,
            enc(uid, "dy.f", token, f.id, 0 if f.id in ticked_ids else 1),
        )
        for f in view.toggles
    ]
    lines = [
        t("diary.saved", day=day_label(view.day), rating=rating),
        *_episodes_line(services, view),
        t("diary.factors_prompt"),
    ]
    rows = [*_rating_rows(services, uid, view), *chunk(toggles, 2)]
    rows.append(
        [
            (t("diary.my_factors_button"), enc(uid, "dy.m")),
            (t("diary.done_button"), enc(uid, "dy.d", token)),
        ]
    )
    return "\n".join(lines), inline(rows)


def row_view(
    services: Services, uid: int, data: UserData, now: datetime
) -> tuple[str, InlineKeyboardMarkup]:
    """/diary: the last 7 days as a row (✓ recorded, · not), each a button; if the current day
    is not recorded yet, its one-tap question comes with it."""
    t, enc = services.content.t, services.codec.encode
    profile = data.profile() or {}
    zone = zone_of(profile)
    days = data.all(diary.DAYS_TABLE)
    recorded = {str(d.get("date")) for d in days}
    dates = diary.row_dates(now, zone)
    marks = [(d, "✓" if d.isoformat() in recorded else "·") for d in dates]
    row = "  ".join(f"{d.strftime('%a')} {mark}" for d, mark in marks)
    lines = [
        t("diary.row", row=row),
        t("diary.month_count", count=diary.recorded_this_month(days, dates[-1])),
    ]
    day_buttons = [
        (f"{d.strftime('%a %d')} {mark}", enc(uid, "dy.o", day_token(d))) for d, mark in marks
    ]
    rows = chunk(day_buttons, 4)
    if dates[-1].isoformat() not in recorded:
        view = load_view(data, dates[-1], now, builtin_factors(services.content))
        lines += ["", *_question(services, view)]
        rows += _rating_rows(services, uid, view)
    if profile.get("diary_enabled"):
        label = t("diary.reminder_button_on", time=profile.get("diary_time", diary.DEFAULT_TIME))
    else:
        label = t("diary.reminder_button_off")
    rows.append([(label, enc(uid, "ds.p"))])
    return "\n".join(lines), inline(rows)


# ---------------------------------------------------------------------------- handlers


async def diary_command(update: Update, ctx: CoachContext) -> None:
    """/diary: the last 7 days, and today's one tap if it is still open."""
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    now = ctx.services.clock.now()
    text, keyboard = await ctx.store.transact(uid, lambda d: row_view(ctx.services, uid, d, now))
    await message.reply_text(text, reply_markup=keyboard)


@button
async def on_day_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    uid = user_id_of(update)
    services = ctx.services
    now = services.clock.now()
    builtin = builtin_factors(services.content)
    profile = await ctx.store.get_profile(uid)
    if profile is None:
        raise BadCallback("no profile")
    route = callback.route
    if route == "dy.w":
        await query.answer()
        text, keyboard = await ctx.store.transact(uid, lambda d: row_view(services, uid, d, now))
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    if route == "dy.m":
        await query.answer()
        await send_factors_panel(update, ctx)
        return
    day = day_arg(callback)
    if not diary.answerable(day, now, zone_of(profile)):  # an old message: no change
        await query.answer(ctx.t("diary.too_old"))
        return
    stage = FACTORS
    if route == "dy.r":
        rating = callback.int_arg(1, 0, diary.MAX_RATING)
        view = await ctx.store.transact(uid, lambda d: rate_day(d, day, rating, now, builtin))
    elif route == "dy.f":
        factor_id, on = callback.arg(1), bool(callback.int_arg(2, 0, 1))
        view = await ctx.store.transact(
            uid, lambda d: set_day_factor(d, day, factor_id, on, now, builtin)
        )
    elif route in ("dy.d", "dy.c", "dy.o"):
        view = await ctx.store.transact(uid, lambda d: load_view(d, day, now, builtin))
        if route == "dy.d":
            if view.record is None:
                await query.answer(ctx.t("diary.need_rating"))
                return
            stage = DONE
        elif route == "dy.o" and view.record is None:
            stage = ASK
    else:
        raise BadCallback("unknown route")
    await query.answer()
    text, keyboard = render(services, uid, view, stage)
    await edit_or_send(query, text, reply_markup=keyboard)
