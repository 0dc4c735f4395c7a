"""The one error handler: a short friendly word to the user, a log line with no personal data."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

from bot.logs import where
from bot.storage import StorageError
from bot.telegram.context import CoachContext

log = logging.getLogger("bot.errors")


def is_not_modified(error: BaseException) -> bool:
    """Telegram's answer to an edit that would change nothing (a double tap, a repeated
    refresh): the screen already shows what we meant to show, so it is not an error."""
    return isinstance(error, BadRequest) and "not modified" in str(error).lower()


async def on_error(update: object, ctx: CoachContext) -> None:
    error = ctx.error
    if error is None:
        return
    update_id = update.update_id if isinstance(update, Update) else None
    if isinstance(error, NetworkError) and update is None:
        # Polling hiccups: PTB retries by itself; keep the log calm.
        log.warning("network trouble while polling: %s", type(error).__name__)
        return
    if is_not_modified(error):
        return
    if isinstance(error, TimedOut):
        # Telegram answered too slowly; the reply was most likely delivered, so an extra
        # "something went wrong" would only confuse. The work itself was saved before replying.
        log.warning("update %s: Telegram answered after the timeout", update_id)
        return
    # Type, update id and code location only: never the message text, health data or the token.
    log.error("update %s failed: %s at %s", update_id, type(error).__name__, where(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if isinstance(error, Forbidden):
        return  # they blocked the bot; nothing can reach them
    key = "common.save_failed" if isinstance(error, StorageError) else "common.error"
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(ctx.t(key), show_alert=True)
        else:
            await ctx.bot.send_message(update.effective_chat.id, ctx.t(key))
    except TelegramError:
        log.warning("could not tell update %s about the failure", update_id)
