"""Telegram misbehaving, injected by the loopback Bot API: 429 with retry_after, 403, 500/502,
a dropped connection, a reply slower than the timeout. The bot keeps serving, sends what it should
once, and loses nothing that was saved."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.sandbox import FakeUser
from bot.telegram.delivery import deliver
from tests.e2e.harness import TOKEN, BotHarness, onboard
from tests.faults.conftest import FIGURES
from tests.faults.flows import checkin_until_note, checkin_with_note, wait_for

SETTINGS = "Your settings"
SLOW = pytest.mark.slow


def kinds(quick: str, *others: str) -> list[Any]:
    """One fault kind in `make test`, all of them in `make faults`."""
    return [quick, *(pytest.param(k, marks=SLOW) for k in others)]


SORRY = "something went wrong"


def inject(harness: BotHarness, kind: str, method: str, chat_id: int | None = None) -> None:
    server = harness.server
    if kind == "429":
        server.inject_failure(method, error_code=429, retry_after=1, chat_id=chat_id)
    elif kind in ("403", "500", "502"):
        server.inject_failure(method, error_code=int(kind), chat_id=chat_id)
    elif kind == "reset":
        server.inject_reset(method, chat_id=chat_id)
    else:
        raise AssertionError(kind)


def texts(user: FakeUser, needle: str) -> list[str]:
    return [m.text for m in user.messages if needle in m.text]


@pytest.mark.parametrize("kind", kinds("502", "429", "500", "reset", "403"))
async def test_reply_fault_bot_keeps_serving_and_nothing_is_duplicated(
    harness: BotHarness, kind: str
) -> None:
    user = await onboard(harness, 8100)
    other = await onboard(harness, 8101)
    inject(harness, kind, "sendMessage", chat_id=user.user_id)
    await user.send("/settings")
    if kind == "403":
        await user.expect_no_more()  # blocked for that moment: nothing can reach them
    else:
        first = await user.next_message(timeout=10)
        if kind == "429":
            assert SETTINGS in first.text  # waited out by the rate limiter and sent once
        else:
            assert SORRY in first.text  # the reply was lost: the user is asked to try again
    await other.send("/settings")  # everyone else is served meanwhile
    assert SETTINGS in (await other.next_message()).text
    await user.send("/settings")  # and so is the user, right after
    assert SETTINGS in (await user.next_message()).text
    await user.expect_no_more()  # a late duplicate would be in by now
    expected = 2 if kind == "429" else 1
    assert len(texts(user, SETTINGS)) == expected
    FIGURES[f"reply with {kind}"] = "served after; no duplicate"


@pytest.mark.parametrize("kind", kinds("reset", "429", "500", "502"))
async def test_fault_on_the_saved_reply_keeps_the_checkin_once(
    harness: BotHarness, kind: str
) -> None:
    user = await onboard(harness, 8110)
    await checkin_with_note(user, "first note")
    await checkin_until_note(user)
    # The "Saved" reply to a typed note is a sendMessage after the save: fail exactly that one.
    inject(harness, kind, "sendMessage", chat_id=user.user_id)
    await user.send("second note")
    reply = await wait_for(user, lambda m: "Saved" in m.text or SORRY in m.text, timeout=10)
    assert ("Saved" in reply.text) == (kind == "429")
    await user.expect_no_more()
    notes = [e["note"] for e in harness.stored(user.user_id)["episodes"].values()]
    assert notes == ["first note", "second note"]  # saved once: not lost, not doubled


@pytest.mark.parametrize("kind", kinds("502", "429", "reset"))
async def test_polling_faults_lose_and_repeat_no_update(harness: BotHarness, kind: str) -> None:
    user = await onboard(harness, 8120)
    inject(harness, kind, "getUpdates")
    await user.send("/settings")
    assert SETTINGS in (await user.next_message(timeout=15)).text
    await user.expect_no_more(timeout=15)  # a repeated update would be answered before this
    assert len(texts(user, SETTINGS)) == 1


def _store(harness: BotHarness) -> Any:
    assert harness.app is not None
    return harness.app.bot_data["services"].store


async def _short_timeout_bot(harness: BotHarness) -> Bot:
    """A Bot whose replies time out after 0.3 s, to provoke 'slow past the timeout' quickly."""
    request = HTTPXRequest(read_timeout=0.3, connect_timeout=1.0)
    bot = Bot(TOKEN, base_url=harness.server.base_url, request=request)
    await bot.initialize()
    return bot


@pytest.mark.parametrize("kind", kinds("500", "502", "reset"))
async def test_scheduled_send_is_retried_and_delivered_once(harness: BotHarness, kind: str) -> None:
    user = await onboard(harness, 8130)
    inject(harness, kind, "sendMessage", chat_id=user.user_id)
    assert harness.app is not None
    sent = await deliver(
        harness.app.bot, _store(harness), user.user_id, "tip of the day", backoff=0.01
    )
    assert sent is not None
    await harness.server.until_idle()  # every attempt deliver made is performed and answered
    assert texts(user, "tip of the day") == ["tip of the day"]


async def test_scheduled_send_slower_than_timeout_is_delivered_once(harness: BotHarness) -> None:
    """Telegram performed the send but its answer came too late: a retry would send it twice."""
    user = await onboard(harness, 8140)
    bot = await _short_timeout_bot(harness)
    try:
        harness.server.inject_delay("sendMessage", 1.0, chat_id=user.user_id, after=True)
        await deliver(bot, _store(harness), user.user_id, "slow tip", backoff=0.01)
    finally:
        await bot.shutdown()
    await harness.server.until_idle()  # the late answer too: nothing is still on its way
    count = len(texts(user, "slow tip"))
    FIGURES["scheduled send, answer later than the timeout"] = f"delivered {count}x"
    assert count == 1, f"delivered {count} times"


@pytest.mark.slow
async def test_reply_slower_than_timeout_keeps_serving(harness: BotHarness) -> None:
    """PTB's default read timeout is 5 s: the reply arrives late, the bot goes on serving."""
    user = await onboard(harness, 8150)
    harness.server.inject_delay("sendMessage", 6.0, chat_id=user.user_id, after=True)
    await user.send("/settings")
    assert SETTINGS in (await user.next_message(timeout=10)).text  # Telegram did send it
    # PTB gives up after 5 s; the reply did arrive, so no "something went wrong" follows.
    await user.expect_no_more(timeout=15)
    await user.send("/settings")
    assert SETTINGS in (await user.next_message(timeout=10)).text
    await user.expect_no_more()
    assert len(texts(user, SETTINGS)) == 2
    FIGURES["reply answered later than the timeout"] = (
        "the reply arrives once, no needless error message; served after"
    )
