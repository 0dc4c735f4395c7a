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
    ctx: CoachContext, user_id: int, token: str, step: safety.CheckStep
) -> tuple[str, InlineKeyboardMarkup]:
    """A yes/no question (rf.a token index y|n) or, after a yes, how it came on (rf.o ...)."""
    words = safety_content().red_flags
    kind, index, _ = step
    question = words.questions[index]
    progress = words.progress.format(number=index + 1, total=len(words.questions))
    if kind == "onset":
        text = f"{progress}\n{question.text}\n\n{words.onset_question}"
        choices = [
            (words.onset_sudden_button, "sudden"),
            (words.onset_slow_button, "slow"),
            (words.onset_unsure_button, "unsure"),
        ]
        rows = [
            [(label, ctx.button(user_id, "rf.o", token, index, value))] for label, value in choices
        ]
        return text, inline(rows)
    answers = [(words.yes_button, "y"), (words.no_button, "n")]
    row = [(label, ctx.button(user_id, "rf.a", token, index, value)) for label, value in answers]
    return f"{progress}\n{question.text}", inline([row])


@button
async def on_red_flag(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """rf.go / rf.skip / rf.a / rf.o: one question per tap (bot/domain/safety.check_step); a
    stale or repeated tap changes nothing. An emergency answer ends the check at once."""
    user_id = user_id_of(update)
    words = safety_content().red_flags
    state = await ctx.store.get_state(user_id, REDFLAG_STATE)
    try:
        token = callback.arg(0)
        if not state or state.get("token") != token:
            raise BadCallback("not the current check")
        answers: dict[str, bool] = dict(state.get("answers") or {})
        onsets: dict[str, str] = dict(state.get("onsets") or {})
        if callback.route == "rf.skip":
            await ctx.store.clear_state(user_id, REDFLAG_STATE)
            await query.answer()
            await edit_or_send(query, words.skipped)
            return
        current = safety.check_step(words.questions, answers, onsets)
        if callback.route in ("rf.a", "rf.o"):
            kind = "ask" if callback.route == "rf.a" else "onset"
            index = callback.int_arg(1, 0, len(words.questions) - 1)
            value = callback.arg(2)
            if current[:2] != (kind, index):
                raise BadCallback("already answered")
            question_id = words.questions[index].id
            if kind == "ask" and value in ("y", "n"):
                answers[question_id] = value == "y"
            elif kind == "onset" and value in safety.ONSETS:
                onsets[question_id] = value
            else:
                raise BadCallback("not an answer")
        elif callback.route != "rf.go":
            raise BadCallback("unknown route")
    except BadCallback:
        await query.answer(ctx.t("common.expired_button"))
        return
    await query.answer()
    step = safety.check_step(words.questions, answers, onsets)
    if step[0] != "done":
        state = {"token": token, "answers": answers, "onsets": onsets}
        await ctx.store.set_state(user_id, REDFLAG_STATE, state)
        text, keyboard = _question_markup(ctx, user_id, token, step)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    outcome = step[2] or "clear"
    record = safety.red_flag_record(answers, onsets, outcome, ctx.services.clock.now())
    await ctx.store.insert(user_id, RED_FLAGS, record)
    await ctx.store.clear_state(user_id, REDFLAG_STATE)
    await edit_or_send(query, words.reply(outcome, answers))
