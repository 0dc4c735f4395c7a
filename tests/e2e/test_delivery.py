"""Scheduled sends meet Telegram's realities: rate limits, blocked users, network trouble."""

from __future__ import annotations

from bot.telegram.delivery import deliver
from tests.e2e.harness import BotHarness, onboard


def _services(harness: BotHarness):  # type: ignore[no-untyped-def]
    assert harness.app is not None
    return harness.app.bot_data["services"]


async def test_429_is_waited_out_and_delivered_once(harness: BotHarness) -> None:
    user = await onboard(harness, 2001)
    harness.server.inject_failure("sendMessage", error_code=429, retry_after=1, chat_id=2001)
    assert harness.app is not None
    sent = await deliver(harness.app.bot, _services(harness).store, 2001, "hello")
    assert sent is not None
    message = await user.next_message()
    assert message.text == "hello"
    await user.expect_silence(0.3)


async def test_blocked_user_is_marked_inactive_and_start_brings_them_back(
    harness: BotHarness,
) -> None:
    user = await onboard(harness, 2002)
    user.block(notify=False)
    assert harness.app is not None
    assert await deliver(harness.app.bot, _services(harness).store, 2002, "tip") is None
    assert harness.stored_profile(2002)["active"] is False
    user.unblock(notify=False)
    await user.send("/start")
    assert "Welcome back" in (await user.next_message()).text
    assert harness.stored_profile(2002)["active"] is True


async def test_block_notification_marks_inactive(harness: BotHarness) -> None:
    user = await onboard(harness, 2003)
    user.block()  # Telegram sends my_chat_member "kicked"
    await harness.server.wait_until_delivered()
    for _ in range(50):
        if harness.stored_profile(2003)["active"] is False:
            break
        await user.expect_silence(0.05)
    assert harness.stored_profile(2003)["active"] is False


async def test_network_errors_are_retried_with_backoff(harness: BotHarness) -> None:
    user = await onboard(harness, 2004)
    harness.server.inject_reset("sendMessage", times=2, chat_id=2004)
    assert harness.app is not None
    sent = await deliver(harness.app.bot, _services(harness).store, 2004, "later", backoff=0.01)
    assert sent is not None
    assert (await user.next_message()).text == "later"
