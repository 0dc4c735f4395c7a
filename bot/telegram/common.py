"""Shared handler plumbing: the onboarding gate, callback decoding, free-text routing, fallbacks."""

from __future__ import annotations

import functools
import html
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.constants import ChatType
from telegram.error import BadRequest
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.domain.zones import format_clock_time, parse_clock_time
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.context import CoachContext
from bot.telegram.errors import is_not_modified
from bot.telegram.keyboards import main_menu, main_menu_labels
from bot.telegram.safety import crisis_guard

log = logging.getLogger(__name__)

AWAITING = "awaiting"  # state key: which free-text answer the bot is waiting for, if any
MAX_TEXT = 4096


def user_id_of(update: Update) -> int:
    assert update.effective_user is not None  # the gate drops updates without a user
    return update.effective_user.id


ButtonHandler = Callable[[Update, CoachContext, CallbackQuery, Callback], Awaitable[None]]


def button(handler: ButtonHandler) -> Callable[[Update, CoachContext], Awaitable[None]]:
    """Make an inline-button handler: the data is decoded first, and bad data, here or an
    argument the handler finds wrong (BadCallback), gets a short answer and changes nothing."""

    @functools.wraps(handler)
    async def handle(update: Update, ctx: CoachContext) -> None:
        query = update.callback_query
        assert query is not None
        try:
            callback = ctx.services.codec.decode(query.from_user.id, query.data)
            await handler(update, ctx, query, callback)
        except BadCallback:
            await query.answer(ctx.t("common.expired_button"))

    return handle


async def edit_or_send(query: CallbackQuery, text: str, **kwargs: Any) -> Message | bool | None:
    """Edit the message a button sits on; a no-change edit is not an error."""
    try:
        return await query.edit_message_text(text, **kwargs)
    except BadRequest as exc:
        if is_not_modified(exc):
            return None
        raise


async def typed_clock_time(
    update: Update, ctx: CoachContext, text: str, bad_key: str
) -> str | None:
    """A typed "HH:MM" as stored ("07:30"); otherwise None, after replying with ``bad_key``
    (which shows what was typed, as {text})."""
    parsed = parse_clock_time(text)
    if parsed is not None:
        return format_clock_time(parsed)
    assert update.effective_message is not None
    shown = html.escape(text.strip()[:20])
    await update.effective_message.reply_text(ctx.t(bad_key, text=shown))
    return None


async def set_awaiting(ctx: CoachContext, user_id: int, kind: str, **extra: Any) -> None:
    await ctx.store.set_state(user_id, AWAITING, {"kind": kind, **extra})


async def clear_awaiting(ctx: CoachContext, user_id: int) -> None:
    await ctx.store.clear_state(user_id, AWAITING)


def _allowed_before_accept(update: Update) -> bool:
    if update.my_chat_member is not None:
        return True  # "they blocked the bot" must be recorded whatever the onboarding state
    message = update.effective_message
    if update.callback_query is not None:
        # ob.ok accepts the note; fg.* confirms /forget, which works before accepting.
        return (update.callback_query.data or "").startswith(("1|ob.ok|", "1|fg."))
    text = (message.text or "") if message else ""
    # What the bot is, what it keeps and how to delete it: never behind the note.
    command = text.split("@", 1)[0].split(" ", 1)[0]
    return command in ("/start", "/help", "/privacy", "/forget")


async def gate(update: Update, ctx: CoachContext) -> None:
    """Runs before every handler: private chats only, and nothing that stores health data (or
    leads to it) until the note is accepted."""
    if update.effective_user is None or update.effective_chat is None:
        raise ApplicationHandlerStop
    if update.effective_chat.type != ChatType.PRIVATE:
        if update.effective_message is not None:
            await update.effective_message.reply_text(ctx.t("common.private_only"))
        raise ApplicationHandlerStop
    if _allowed_before_accept(update):
        return
    profile = await ctx.store.get_profile(update.effective_user.id)
    if profile and profile.get("accepted"):
        return
    message = update.effective_message
    if update.callback_query is not None:
        await update.callback_query.answer(ctx.t("common.need_accept_short"))
    elif message is not None and message.text and await crisis_guard(update, ctx, message.text):
        pass  # crisis words are answered with care even before the note is accepted
    elif message is not None:
        await message.reply_text(ctx.t("common.need_accept"))
    raise ApplicationHandlerStop


async def on_text(update: Update, ctx: CoachContext) -> None:
    """Free text: a main-menu button, an answer the bot asked for, or a gentle hint."""
    message = update.effective_message
    assert message is not None and message.text is not None
    user_id = user_id_of(update)
    text = message.text
    # Safety first, in every state (a note being typed too): crisis words get a caring reply
    # with resources; whatever they were doing still goes on below.
    crisis = await crisis_guard(update, ctx, text)
    menu_key = main_menu_labels(ctx.content).get(text.strip())
    if menu_key is not None:
        await clear_awaiting(ctx, user_id)
        action = ctx.services.menu_actions.get(menu_key)
        if action is None:
            await message.reply_text(ctx.t("common.not_ready"), reply_markup=main_menu(ctx.content))
        else:
            await action(update, ctx)
        return
    awaiting = await ctx.store.get_state(user_id, AWAITING)
    handler = ctx.services.text_inputs.get(awaiting.get("kind", "")) if awaiting else None
    if handler is not None:
        await handler(update, ctx, text, awaiting)
        return
    if crisis:
        return  # the caring reply is the answer; no "I didn't catch that" after it
    await message.reply_text(ctx.t("common.unknown_text"), reply_markup=main_menu(ctx.content))


async def on_unknown_command(update: Update, ctx: CoachContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(ctx.t("common.unknown_command"))


async def on_other_message(update: Update, ctx: CoachContext) -> None:
    """Stickers, photos, voice...: say what we can read instead of staying silent."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(ctx.t("common.text_only"))


async def on_stale_button(update: Update, ctx: CoachContext) -> None:
    """A button no handler claims (old format, removed feature): answer, change nothing."""
    assert update.callback_query is not None
    await update.callback_query.answer(ctx.t("common.expired_button"))


async def on_cancel(update: Update, ctx: CoachContext) -> None:
    """/cancel: leave whatever flow is in progress. Features register what "leaving" means."""
    assert update.effective_message is not None
    user_id = user_id_of(update)
    awaiting = await ctx.store.get_state(user_id, AWAITING)
    await clear_awaiting(ctx, user_id)
    cancelled = bool(awaiting)
    for hook in ctx.services.cancel_hooks:
        cancelled = await hook(user_id, ctx) or cancelled
    key = "common.cancelled" if cancelled else "common.nothing_to_cancel"
    await update.effective_message.reply_text(ctx.t(key), reply_markup=main_menu(ctx.content))


def register_gate(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    app.add_handler(TypeHandler(Update, gate), group=-1)


def register_fallbacks(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Added last, so every feature's handlers get the first look."""
    app.add_handler(CommandHandler("cancel", on_cancel))
    app.add_handler(MessageHandler(filters.COMMAND, on_unknown_command))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_stale_button))
    app.add_handler(MessageHandler(filters.ALL & ~filters.StatusUpdate.ALL, on_other_message))
