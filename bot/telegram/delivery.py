"""Sending a message nobody asked for just now (a push, a follow-up, a timer step).

Handlers reply inside an update and let the error handler deal with failures. Scheduled sends are
different: one person's failure must never stop the job or skip anyone else, so they go through
here, text or photo alike. A 429 is already waited out by the AIORateLimiter; a user who blocked
the bot is marked inactive (their schedules check `active`); a failed connection is retried with
backoff. A timeout is not retried: Telegram may have sent the message and only its answer was
late, and a person should never get the same message twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from telegram import Bot, InputFile, Message
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.pushes import Outgoing
from bot.storage import Store

log = logging.getLogger(__name__)

RETRIES = 3
PHOTO_NAME = "week.png"  # the only photo the bot sends; a name lets the sandbox save it well
BACKOFF_SECONDS = 1.0


async def mark_inactive(store: Store, user_id: int) -> None:
    """They blocked the bot (or the chat is gone): stop scheduling until they /start again."""
    with contextlib.suppress(KeyError):  # no profile left (deleted): nothing to mark
        await store.update_profile(user_id, {"active": False})


async def deliver(
    bot: Bot,
    store: Store,
    user_id: int,
    text: str,
    *,
    photo: bytes | None = None,
    backoff: float = BACKOFF_SECONDS,
    **kwargs: Any,
) -> Message | None:
    """Send ``text`` to ``user_id`` (as the caption of ``photo`` if given); return the message,
    or None if it could not be delivered."""
    for attempt in range(RETRIES + 1):
        try:
            if photo is not None:
                picture = InputFile(photo, filename=PHOTO_NAME)
                return await bot.send_photo(user_id, picture, caption=text, **kwargs)
            return await bot.send_message(user_id, text, **kwargs)
        except Forbidden:
            await mark_inactive(store, user_id)
            log.info("a user blocked the bot; marked inactive")
            return None
        except BadRequest as exc:
            if "chat not found" in str(exc).lower():
                await mark_inactive(store, user_id)
                return None
            raise  # our bug (bad markup, too long): let the caller's log show it
        except RetryAfter as exc:
            # Only reached if the rate limiter's own retries ran out.
            await asyncio.sleep(_seconds(exc.retry_after))
        except TimedOut as exc:
            if "pool timeout" not in str(exc).lower():  # a pool timeout was never sent
                log.warning("a delivery timed out; not retried, it may have arrived")
                return None
            await asyncio.sleep(backoff * 2**attempt)
        except NetworkError:
            if attempt == RETRIES:
                log.warning("giving up a delivery after %d network errors", RETRIES + 1)
                return None
            await asyncio.sleep(backoff * 2**attempt)
    return None


async def send_push(bot: Bot, store: Store, user_id: int, message: Outgoing) -> bool:
    """The push scheduler's send (`bot.pushes.Send`): one message of a push, through `deliver`."""
    sent = await deliver(
        bot, store, user_id, message.text, photo=message.photo, reply_markup=message.markup
    )
    return sent is not None


def _seconds(value: Any) -> float:
    return value.total_seconds() if hasattr(value, "total_seconds") else float(value)
