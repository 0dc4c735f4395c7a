"""Daily coaching in the chat: the tip message and its buttons, /tip, /tips, and the morning tip
as a push kind ("tip") of the one push scheduler (`bot.pushes`).

Routes (prefix "tp"): tp.h / tp.n <history id> helpful / not for me; tp.pm / tp.bk <history id>
pause choices under a tip and back; tp.pz <days> pause; tp.rs resume; tp.on / tp.off morning
tips on or off; tp.tp topics panel; tp.tg <topic index> switch a topic; tp.pn the /tips panel.
"""

from __future__ import annotations

import html
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from telegram import CallbackQuery, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.content import Content
from bot.domain import coaching
from bot.domain.coaching import TOPICS, Tip, TipLibrary
from bot.domain.pushtime import local_date
from bot.domain.zones import zone, zone_label
from bot.logs import where
from bot.pushes import Outgoing, PushKind, hhmm, instant
from bot.storage import UserData
from bot.telegram.callbacks import BadCallback, Callback, CallbackCodec, feature_pattern
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext, Services
from bot.telegram.keyboards import inline, main_menu

log = logging.getLogger(__name__)

HISTORY_TABLE = "tips"
HISTORY_KEEP = 200  # enough for the rotation rule (pools are ~12 per topic)
PAUSE_DAYS = (1, 3, 7)
FEEDBACK = {"tp.h": "helpful", "tp.n": "not_for_me"}
FEATURE_ROUTES_WITH_HISTORY = ("tp.h", "tp.n", "tp.pm", "tp.bk")  # arg 0: a tip history id


def library_of(ctx: CoachContext) -> TipLibrary:
    return ctx.bot_data["tips_library"]


# ---------------------------------------------------------------------------- the tip message


def tip_text(content: Content, tip: Tip) -> str:
    text = content.t("tips.tip", title=html.escape(tip.title), body=html.escape(tip.body))
    if tip.try_today:
        text += "\n\n" + content.t("tips.try_today", action=html.escape(tip.try_today))
    return text


def tip_keyboard(codec: CallbackCodec, content: Content, uid: int, history_id: int) -> Any:
    t, enc = content.t, codec.encode
    return inline(
        [
            [
                (t("tips.helpful_button"), enc(uid, "tp.h", history_id)),
                (t("tips.not_for_me_button"), enc(uid, "tp.n", history_id)),
            ],
            [(t("tips.pause_button"), enc(uid, "tp.pm", history_id))],
        ]
    )


# ---------------------------------------------------------------------------- choosing, history


def pick_tip(
    data: UserData,
    now: datetime,
    library: TipLibrary,
    rng: random.Random,
    refused: frozenset[str] = frozenset(),
) -> Tip | None:
    """The person's next tip from their stored history, feedback, settings and check-ins;
    `refused` adds tips to leave out (ones that could not be rendered)."""
    profile = data.profile() or {}
    history = data.all(HISTORY_TABLE)
    sent = [coaching.SentTip(d["tip_id"], d["topic"]) for d in history if "tip_id" in d]
    helpful = {d.get("topic") for d in history if d.get("feedback") == "helpful"}
    weights = coaching.topic_weights(data.all("episodes"), now, helpful_topics=helpful)
    return coaching.choose_tip(
        library,
        sent,
        weights=weights,
        not_for_me=[*(profile.get("tips_not_for_me") or ()), *refused],
        topics_off=profile.get("tips_topics_off") or (),
        rng=rng,
    )


def record_tip(data: UserData, tip: Tip, now: datetime, kind: str, day: date) -> int:
    """Add a tip to the person's history (newest HISTORY_KEEP kept); returns its id."""
    history_id = data.insert(
        HISTORY_TABLE,
        {
            "tip_id": tip.id,
            "topic": tip.topic,
            "kind": kind,  # "morning" | "on_demand"
            "sent_at": now.isoformat(),
            "local_date": day.isoformat(),
            "feedback": None,  # "helpful" | "not_for_me"
        },
    )
    excess = data.count(HISTORY_TABLE) - HISTORY_KEEP
    if excess > 0:
        for old in data.all(HISTORY_TABLE)[:excess]:
            data.remove(HISTORY_TABLE, old["id"])
    return history_id


# How many tips a person may draw that fail to render before they get none today.
RENDER_ATTEMPTS = 3


def pick_renderable_tip(
    content: Content, data: UserData, now: datetime, library: TipLibrary, rng: random.Random
) -> tuple[Tip, str] | None:
    """A tip and its text. One whose text cannot be rendered (damaged content) is logged with
    its id and code location and another is drawn, so a bad tip costs nobody their tip."""
    refused: set[str] = set()
    for _ in range(RENDER_ATTEMPTS):
        tip = pick_tip(data, now, library, rng, frozenset(refused))
        if tip is None:
            return None
        try:
            return tip, tip_text(content, tip)
        except Exception as exc:
            log.error("tip %s cannot be rendered: %s at %s", tip.id, type(exc).__name__, where(exc))
            refused.add(tip.id)
    return None


# ---------------------------------------------------------------------------- the morning push


@dataclass(frozen=True)
class MorningTip:
    text: str
    history_id: int


def tip_kind(content: Content, codec: CallbackCodec, library: TipLibrary) -> PushKind[MorningTip]:
    """The morning tip: at `tip_time`, every day, unless switched off or paused."""
    rng = random.Random()

    def local_time(entry: Mapping[str, Any]) -> time | None:
        return None if entry.get("tips_enabled") is False else hhmm(entry.get("tip_time"))

    def prepare(data: UserData, now: datetime, day: date) -> MorningTip | None:
        picked = pick_renderable_tip(content, data, now, library, rng)
        if picked is None:  # every topic switched off or refused: nothing to send today
            return None
        tip, text = picked
        return MorningTip(text, record_tip(data, tip, now, "morning", day))

    def render(uid: int, tip: MorningTip) -> list[Outgoing]:
        return [Outgoing(tip.text, tip_keyboard(codec, content, uid, tip.history_id))]

    return PushKind(
        name="tip",
        marker="last_tip_date",
        fields=("tip_time", "tips_enabled", "tips_paused_until"),
        local_time=local_time,
        prepare=prepare,
        render=render,
        paused_until=lambda entry: instant(entry.get("tips_paused_until")),
        opt_in=lambda at: {"tip_time": at.strftime("%H:%M"), "tips_enabled": True},
    )


def _after_feedback_keyboard(services: Services, uid: int, history_id: int) -> Any:
    label = services.content.t("tips.pause_button")
    return inline([[(label, services.codec.encode(uid, "tp.pm", history_id))]])


def _tip_keyboard(services: Services, uid: int, history_id: int) -> Any:
    return tip_keyboard(services.codec, services.content, uid, history_id)


def _tip_markup(ctx: CoachContext, uid: int, history_id: int, doc: dict[str, Any]) -> Any:
    """A tip's buttons: feedback buttons until feedback was given, then only "pause"."""
    if doc.get("feedback"):
        return _after_feedback_keyboard(ctx.services, uid, history_id)
    return _tip_keyboard(ctx.services, uid, history_id)


def _pause_row(ctx: CoachContext, uid: int, *extra: int) -> list[tuple[str, str]]:
    """Pause 1 / 3 / 7 days; `extra` carries the tip's history id when under a tip."""
    labels = (
        ctx.t("tips.pause_1_button"),
        ctx.t("tips.pause_3_button"),
        ctx.t("tips.pause_7_button"),
    )
    return [
        (label, ctx.button(uid, "tp.pz", days, *extra))
        for label, days in zip(labels, PAUSE_DAYS, strict=True)
    ]


# ---------------------------------------------------------------------------- /tip


async def tip_now(update: Update, ctx: CoachContext) -> None:
    """/tip and the menu button: one tip now. Recorded for rotation, not as the morning tip."""
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    now = ctx.services.clock.now()
    library = library_of(ctx)

    def op(data: UserData) -> tuple[str, int] | None:
        picked = pick_renderable_tip(ctx.content, data, now, library, random.Random())
        if picked is None:
            return None
        tip, text = picked
        day = local_date(now, (data.profile() or {}).get("tz") or "UTC")
        return text, record_tip(data, tip, now, "on_demand", day)

    result = await ctx.store.transact(uid, op)
    if result is None:
        await message.reply_text(ctx.t("tips.no_tips"), reply_markup=main_menu(ctx.content))
        return
    text, history_id = result
    await message.reply_text(text, reply_markup=_tip_keyboard(ctx.services, uid, history_id))


# ---------------------------------------------------------------------------- /tips panel


def _topic_label(ctx: CoachContext, topic: str) -> str:
    labels = {
        "sleep": ctx.t("tips.topic_sleep"),
        "stress": ctx.t("tips.topic_stress"),
        "hydration_electrolytes": ctx.t("tips.topic_hydration_electrolytes"),
        "pacing": ctx.t("tips.topic_pacing"),
        "movement": ctx.t("tips.topic_movement"),
    }
    return labels[topic]


def _paused_until(profile: dict[str, Any], now: datetime) -> datetime | None:
    until = instant(profile.get("tips_paused_until"))
    return until if until is not None and until > now else None


def _local(moment: datetime, zone_name: str | None) -> str:
    local = moment.astimezone(zone(zone_name)) if zone_name else moment
    return local.strftime("%a %d %b, %H:%M")


def _panel(ctx: CoachContext, uid: int, profile: dict[str, Any]) -> tuple[str, Any]:
    now = ctx.services.clock.now()
    tz, tip_time = profile.get("tz"), profile.get("tip_time")
    paused = _paused_until(profile, now)
    enabled = profile.get("tips_enabled") is not False
    if not tz or not tip_time:
        status = ctx.t("tips.status_unset")
    elif not enabled:
        status = ctx.t("tips.status_off")
    elif paused is not None:
        status = ctx.t(
            "tips.status_paused", until=_local(paused, tz), time=tip_time, zone=zone_label(tz)
        )
    else:
        status = ctx.t("tips.status_on", time=tip_time, zone=zone_label(tz))
    off = set(profile.get("tips_topics_off") or ())
    on_topics = [_topic_label(ctx, t) for t in TOPICS if t not in off]
    topics = ", ".join(on_topics) if on_topics else ctx.t("tips.all_topics_off")
    text = ctx.t("tips.panel", status=status, topics=topics)
    rows: list[list[Any]] = [[(ctx.t("tips.change_time_button"), ctx.button(uid, "ob.ct"))]]
    rows.append(_pause_row(ctx, uid))
    if paused is not None or not enabled:
        rows.append([(ctx.t("tips.resume_button"), ctx.button(uid, "tp.rs"))])
    rows.append([(ctx.t("tips.topics_button"), ctx.button(uid, "tp.tp"))])
    if enabled:
        rows.append([(ctx.t("tips.off_button"), ctx.button(uid, "tp.off"))])
    return text, inline(rows)


def _topics_panel(ctx: CoachContext, uid: int, profile: dict[str, Any]) -> tuple[str, Any]:
    off = set(profile.get("tips_topics_off") or ())
    rows = [
        [
            (
                ctx.t("tips.topic_off", topic=_topic_label(ctx, topic))
                if topic in off
                else ctx.t("tips.topic_on", topic=_topic_label(ctx, topic)),
                ctx.button(uid, "tp.tg", index),
            )
        ]
        for index, topic in enumerate(TOPICS)
    ]
    rows.append([(ctx.t("tips.back_button"), ctx.button(uid, "tp.pn"))])
    return ctx.t("tips.topics_panel"), inline(rows)


async def tips_command(update: Update, ctx: CoachContext) -> None:
    """/tips: the schedule, with buttons to change time, pause, resume and pick topics."""
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    text, keyboard = _panel(ctx, uid, await ctx.store.get_profile(uid) or {})
    await message.reply_text(text, reply_markup=keyboard)


# ---------------------------------------------------------------------------- buttons


@button
async def on_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    uid = user_id_of(update)
    await _dispatch(update, ctx, uid, callback.route, callback)


async def _dispatch(update: Update, ctx: CoachContext, uid: int, route: str, cb: Any) -> None:
    query = update.callback_query
    assert query is not None
    now = ctx.services.clock.now()
    if route in FEATURE_ROUTES_WITH_HISTORY:
        history_id = cb.int_arg(0, 1, 10**9)
        doc = await ctx.store.get(uid, "tips", history_id)
        if doc is None:  # pruned or never existed: nothing to change
            await query.answer(ctx.t("common.expired_button"))
            return
        if route in FEEDBACK:
            await _feedback(update, ctx, uid, history_id, doc, FEEDBACK[route])
        elif route == "tp.pm":
            await query.answer()
            back = [(ctx.t("tips.back_button"), ctx.button(uid, "tp.bk", history_id))]
            await query.edit_message_reply_markup(inline([_pause_row(ctx, uid, history_id), back]))
        else:  # tp.bk
            await query.answer()
            await query.edit_message_reply_markup(_tip_markup(ctx, uid, history_id, doc))
        return
    profile = await ctx.store.get_profile(uid)
    if profile is None:
        await query.answer(ctx.t("common.expired_button"))
        return
    if route == "tp.pz":
        days = cb.int_arg(0, 1, 7)
        if days not in PAUSE_DAYS:
            raise BadCallback("unknown pause length")
        history_id = cb.int_arg(1, 1, 10**9) if len(cb.args) > 1 else None
        until = now + timedelta(days=days)
        profile = await ctx.store.update_profile(uid, {"tips_paused_until": until.isoformat()})
        await query.answer(ctx.t("tips.paused", until=_local(until, profile.get("tz"))))
        if history_id is not None:  # paused from under a tip: keep the tip, restore its buttons
            doc = await ctx.store.get(uid, "tips", history_id) or {}
            await query.edit_message_reply_markup(_tip_markup(ctx, uid, history_id, doc))
            return
    elif route == "tp.rs":
        profile = await ctx.store.update_profile(
            uid, {"tips_paused_until": None, "tips_enabled": True}
        )
        await query.answer(ctx.t("tips.resumed"))
    elif route in ("tp.on", "tp.off"):
        profile = await ctx.store.update_profile(uid, {"tips_enabled": route == "tp.on"})
        await query.answer(ctx.t("tips.switched_on" if route == "tp.on" else "tips.switched_off"))
    elif route == "tp.tg":
        topic = TOPICS[cb.int_arg(0, 0, len(TOPICS) - 1)]
        off = set(profile.get("tips_topics_off") or ())
        off ^= {topic}
        profile = await ctx.store.update_profile(
            uid, {"tips_topics_off": [t for t in TOPICS if t in off]}
        )
        await query.answer()
        text, keyboard = _topics_panel(ctx, uid, profile)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    elif route == "tp.tp":
        await query.answer()
        text, keyboard = _topics_panel(ctx, uid, profile)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    elif route == "tp.pn":
        await query.answer()
    else:
        raise BadCallback("unknown route")
    text, keyboard = _panel(ctx, uid, profile)
    await edit_or_send(query, text, reply_markup=keyboard)


async def _feedback(
    update: Update, ctx: CoachContext, uid: int, history_id: int, doc: dict[str, Any], kind: str
) -> None:
    """Store "helpful" / "not for me" once; "not for me" also hides that tip for good."""
    query = update.callback_query
    assert query is not None
    now = ctx.services.clock.now().isoformat()

    def op(data: UserData) -> bool:
        current = data.get("tips", history_id)
        if current is None or current.get("feedback"):
            return False
        data.update("tips", history_id, {"feedback": kind, "feedback_at": now})
        if kind == "not_for_me":
            refused = list((data.profile() or {}).get("tips_not_for_me") or ())
            if current["tip_id"] not in refused:
                refused.append(current["tip_id"])
            data.update_profile({"tips_not_for_me": refused})
        return True

    if not await ctx.store.transact(uid, op):
        await query.answer(ctx.t("tips.already_noted"))
        return
    await query.answer(
        ctx.t("tips.thanks_helpful" if kind == "helpful" else "tips.thanks_not_for_me")
    )
    await query.edit_message_reply_markup(_after_feedback_keyboard(ctx.services, uid, history_id))


# ---------------------------------------------------------------------------- wiring


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = app.bot_data["services"]
    library = services.content.tips  # validated with the rest of content/
    app.bot_data["tips_library"] = library
    services.pushes.register(tip_kind(services.content, services.codec, library))
    services.menu_actions["menu.tip"] = tip_now
    app.add_handler(CommandHandler("tip", tip_now))
    app.add_handler(CommandHandler("tips", tips_command))
    app.add_handler(CallbackQueryHandler(on_button, pattern=feature_pattern("tp")))
