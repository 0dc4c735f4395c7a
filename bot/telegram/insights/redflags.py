"""The red-flag check: a few yes/no questions offered after onboarding, by /safetycheck and again
some weeks after the last offer (the "evening_checks" push, `bot.telegram.insights.evening`).

Route: rf.* one question per tap.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update

from bot.domain import safety
from bot.storage import UserData
from bot.telegram.callbacks import BadCallback, Callback, CallbackCodec
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext, Services
from bot.telegram.insights.shared import RED_FLAGS
from bot.telegram.keyboards import inline
from bot.telegram.safety import safety_content

REDFLAG_STATE = "redflag"


def record_offer(data: UserData, now: datetime) -> str:
    """Inside a unit of work: note the offer (the 4-week clock restarts on every offer, answered
    or skipped) and start a check session; returns the session's token. KeyError for a person
    without a profile (deleted), so no file is recreated."""
    token = secrets.token_urlsafe(6)
    data.update_profile({"redflag_offered_at": now.isoformat()})
    data.set_state({REDFLAG_STATE: {"token": token, "answers": {}}})
    return token


def offer_message(codec: CallbackCodec, user_id: int, token: str) -> tuple[str, Any]:
    """The offer text and its Start / Not now buttons for one check session."""
    words = safety_content().red_flags
    keyboard = inline(
        [
            [
                (words.start_button, codec.encode(user_id, "rf.go", token)),
                (words.skip_button, codec.encode(user_id, "rf.skip", token)),
            ]
        ]
    )
    return words.intro, keyboard


async def red_flag_offer(services: Services, user_id: int) -> tuple[str, Any]:
    """Start a red-flag check session: returns the offer text and its Start / Not now buttons."""
    now = services.clock.now()
    token = await services.store.transact(user_id, lambda data: record_offer(data, now))
    return offer_message(services.codec, user_id, token)


async def offer_red_flag_check(update: Update, ctx: CoachContext) -> None:
    """Onboarding's last step and /safetycheck: offer the short yes/no check."""
    assert update.effective_message is not None
    text, keyboard = await red_flag_offer(ctx.services, user_id_of(update))
    await update.effective_message.reply_text(text, reply_markup=keyboard)


def _question_markup(
    ctx: CoachContext, user_id: int, token: str, index: int
) -> tuple[str, InlineKeyboardMarkup]:
    words = safety_content().red_flags
    question = words.questions[index]
    text = f"{words.progress.format(number=index + 1, total=len(words.questions))}\n{question.text}"
    keyboard = inline(
        [
            [
                (words.yes_button, ctx.button(user_id, "rf.a", token, index, "y")),
                (words.no_button, ctx.button(user_id, "rf.a", token, index, "n")),
            ]
        ]
    )
    return text, keyboard


@button
async def on_red_flag(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """rf.go / rf.skip / rf.a: one question per tap; a stale or repeated tap changes nothing."""
    user_id = user_id_of(update)
    words = safety_content().red_flags
    state = await ctx.store.get_state(user_id, REDFLAG_STATE)
    try:
        token = callback.arg(0)
        if not state or state.get("token") != token:
            raise BadCallback("not the current check")
        answers: dict[str, bool] = dict(state.get("answers") or {})
        if callback.route == "rf.skip":
            await ctx.store.clear_state(user_id, REDFLAG_STATE)
            await query.answer()
            await edit_or_send(query, words.skipped)
            return
        if callback.route == "rf.go":
            index = 0
        elif callback.route == "rf.a":
            index = callback.int_arg(1, 0, len(words.questions) - 1)
            answer = callback.arg(2)
            if index != len(answers) or answer not in ("y", "n"):
                raise BadCallback("already answered")
            answers[words.questions[index].id] = answer == "y"
            index += 1
        else:
            raise BadCallback("unknown route")
    except BadCallback:
        await query.answer(ctx.t("common.expired_button"))
        return
    await query.answer()
    if index < len(words.questions):
        await ctx.store.set_state(user_id, REDFLAG_STATE, {"token": token, "answers": answers})
        text, keyboard = _question_markup(ctx, user_id, token, index)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    record = safety.red_flag_record(answers, ctx.services.clock.now())
    await ctx.store.insert(user_id, RED_FLAGS, record)
    await ctx.store.clear_state(user_id, REDFLAG_STATE)
    outcome = safety.red_flag_outcome(
        record["answers"], [q.id for q in words.questions if q.urgent]
    )
    reply = {
        "urgent": words.see_doctor_urgent,
        "see_doctor": words.see_doctor,
        "clear": words.all_clear,
    }[outcome]
    await edit_or_send(query, reply)
