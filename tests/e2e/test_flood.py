"""One person flooding the bot, end to end through the loopback Bot API, with production's flood
control (Settings.flood_limit, 20 updates per 10 s): they get answers to what came first, one
short note, nothing more; everyone else is served meanwhile. Timing is the benchmark's job
(bench/flood_bench.py); here it is what is answered and what is not."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config import DEFAULT_FLOOD_LIMIT as LIMIT
from bot.sandbox import LoopbackBotAPI
from tests.e2e.harness import BotHarness, onboard

FLOOD = 150  # what one person sent "as fast as they could" when this was found
SLOW_DOWN = "slow down a little"
NEED_ACCEPT = "please read the short note above"


@pytest.fixture
async def guarded(loopback: LoopbackBotAPI, tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(loopback, tmp_path / "data", ManualClock(), flood_limit=LIMIT)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


async def test_a_flood_is_answered_up_to_the_limit_then_one_note(guarded: BotHarness) -> None:
    other = await onboard(guarded, 6002)
    flooder = guarded.user(6001)  # new here: every message gets the gate's "read the note"
    for n in range(FLOOD):
        await flooder.send(f"hello {n}")
    await guarded.server.wait_until_delivered(timeout=30)  # the bot has taken every one in
    await other.send("/help")  # after all of them: served, not queued behind the flood
    assert "/checkin" in (await other.next_message(timeout=30)).text

    replies = [await flooder.next_message(timeout=30) for _ in range(LIMIT + 1)]
    assert all(NEED_ACCEPT in r.text.lower() for r in replies[:LIMIT])  # the first 20 answered
    assert SLOW_DOWN in replies[-1].text  # then the note, after them
    # The note is queued behind the person's earlier updates, and the rest were dropped when
    # they arrived (before /help above was handled): nothing else can come.
    await flooder.expect_silence(0)
    assert len(flooder.events) == LIMIT + 1
    assert guarded.server.count("sendMessage") < 2 * LIMIT + 20  # not 150 replies


async def test_settle_waits_for_a_reply_slower_than_any_quiet_window(
    guarded: BotHarness, loopback: LoopbackBotAPI
) -> None:
    """The probe FakeUser.settle sends is answered only after everything sent before it."""
    user = await onboard(guarded, 6003)
    loopback.inject_delay("sendMessage", 1.5, chat_id=user.user_id)
    await user.send("/help")
    await user.settle()
    assert "/checkin" in user.events[-1].text  # already there: no waiting needed after settle
    with pytest.raises(AssertionError, match="expected nothing more"):
        await user.expect_no_more()

