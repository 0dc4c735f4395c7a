"""A new person's first minutes with the bot, driven through the loopback Bot API."""

from __future__ import annotations

import io
import logging
import stat

import pytest

from bot.config import Secret
from bot.logs import setup_logging
from tests.e2e.harness import TOKEN, BotHarness, onboard


async def test_start_accept_type_city_pick_time_main_menu(harness: BotHarness) -> None:
    user = harness.user(1001, first_name="Ana")
    await user.send("/start")
    welcome = await user.next_message()
    assert "Ana" in welcome.text
    note = await user.next_message()
    assert "not a doctor" in note.text and "medical advice" in note.text

    await user.press("I understand")
    accepted = await user.next_message()
    assert accepted.is_edit and "Thank you" in accepted.text
    question = await user.next_message()
    assert "time zone" in question.text
    await user.press("Type my city")
    prompt = await user.next_message()
    assert "Type your city" in prompt.text

    await user.send("Berlin")
    confirmed = await user.next_message()
    assert "Berlin" in confirmed.text
    tip_question = await user.next_message()
    assert "morning tip" in tip_question.text
    await user.press("09:00")
    await user.next_message()
    menu = await user.next_message()
    assert "All set" in menu.text
    assert menu.reply_keyboard == [
        ["🌀 Twitching now", "📝 Log an episode"],
        ["💡 Tip", "📊 My week"],
    ]

    profile = harness.stored_profile(1001)
    assert profile["tz"] == "Europe/Berlin"
    assert profile["tip_time"] == "09:00"
    assert profile["accepted"] is True and profile["onboarded"] is True


@pytest.mark.files_only
async def test_data_files_are_owner_only(harness: BotHarness) -> None:
    await onboard(harness, 1001)
    assert stat.S_IMODE(harness.user_file(1001).stat().st_mode) == 0o600
    assert stat.S_IMODE(harness.data_dir.stat().st_mode) == 0o700


async def test_command_menu_is_registered_at_start(harness: BotHarness) -> None:
    names = [c["command"] for c in harness.server.commands]
    assert {"start", "help", "settings", "cancel"} <= set(names)


async def test_nothing_works_before_the_note_is_accepted(harness: BotHarness) -> None:
    user = harness.user(1002)
    await user.send("/start")
    await user.next_message()
    await user.next_message()
    for attempt in ("/settings", "/tiptime 07:00", "hello"):
        await user.send(attempt)
        reply = await user.next_message()
        assert "I understand" in reply.text
    profile = harness.stored_profile(1002)
    assert profile["accepted"] is False and "tip_time" not in profile


async def test_help_before_the_note_explains_the_bot_and_stores_nothing(
    harness: BotHarness,
) -> None:
    user = harness.user(1006)
    await user.send("/start")
    await user.next_message()  # welcome
    note = await user.next_message()
    assert "I understand" in note.labels
    stored_by_onboarding = harness.stored(1006)

    await user.send("/help")
    explained = await user.next_message()
    assert "What I am" in explained.text and "not a doctor" in explained.text
    assert "routine" in explained.text and "Log an episode" in explained.text
    assert "/privacy" in explained.text and "I understand" in explained.text
    assert "read the short note above" not in explained.text  # not the "accept first" refusal
    assert explained.reply_keyboard is None  # no menu whose buttons would only be refused
    assert harness.stored(1006) == stored_by_onboarding

    await user.press("I understand", message_id=note.message_id)  # still works after /help
    assert "Thank you" in (await user.next_message()).text
    await user.next_message()  # the time zone question
    await user.send("/help")
    full = await user.next_message()
    assert "/checkin" in full.text and "What I am" not in full.text


async def test_help_as_a_first_message_creates_no_file(harness: BotHarness) -> None:
    user = harness.user(1007)
    await user.send("/help")
    explained = await user.next_message()
    assert "What I am" in explained.text and "/start" in explained.text
    assert not harness.has_data(1007)


async def test_bad_zone_gets_a_helpful_retry(harness: BotHarness) -> None:
    user = harness.user(1003)
    await user.send("/start")
    await user.next_message()
    await user.next_message()
    await user.press("I understand")
    await user.next_message()
    await user.next_message()
    await user.press("Type my city")
    await user.next_message()
    await user.send("Atlantis")
    retry = await user.next_message()
    assert "couldn't find" in retry.text and "Atlantis" in retry.text
    assert "tz" not in harness.stored_profile(1003)
    await user.send("UTC+5:45")
    confirmed = await user.next_message()
    assert "Kathmandu" in confirmed.text
    assert harness.stored_profile(1003)["tz"] == "Asia/Kathmandu"


async def test_bad_and_good_tiptime_and_timezone_commands(harness: BotHarness) -> None:
    user = await onboard(harness, 1004)
    await user.send("/tiptime 25:00")
    reply = await user.next_message()
    assert "isn't a time I understand" in reply.text
    assert harness.stored_profile(1004)["tip_time"] == "08:00"
    await user.send("/tiptime 7:30")
    reply = await user.next_message()
    assert "07:30" in reply.text
    assert harness.stored_profile(1004)["tip_time"] == "07:30"
    await user.send("/timezone Mars/Olympus")
    assert "couldn't find" in (await user.next_message()).text
    await user.send("/timezone America/New_York")
    assert "New York" in (await user.next_message()).text
    assert harness.stored_profile(1004)["tz"] == "America/New_York"


async def test_settings_buttons_change_zone(harness: BotHarness) -> None:
    user = await onboard(harness, 1005)
    await user.send("/settings")
    shown = await user.next_message()
    assert "Berlin" in shown.text and "08:00" in shown.text
    await user.press("Change time zone")
    await user.next_message()
    await user.press("Sydney")
    assert "Sydney" in (await user.next_message()).text
    assert harness.stored_profile(1005)["tz"] == "Australia/Sydney"
    await user.expect_silence(0.3)  # a settled user is not walked through onboarding again


async def test_start_again_never_wipes_data(harness: BotHarness) -> None:
    user = await onboard(harness, 1006)
    before = harness.stored_profile(1006)
    await user.send("/start")
    reply = await user.next_message()
    assert "Welcome back" in reply.text and reply.reply_keyboard
    assert harness.stored_profile(1006) == before


async def test_unknown_text_command_and_sticker_get_hints(harness: BotHarness) -> None:
    user = await onboard(harness, 1007)
    await user.send("what is this")
    assert "didn't catch" in (await user.next_message()).text
    await user.send("/frobnicate")
    assert "don't know that command" in (await user.next_message()).text
    await user.send("x" * 4096)
    assert "didn't catch" in (await user.next_message()).text


async def test_forged_and_foreign_buttons_change_nothing(harness: BotHarness) -> None:
    user = await onboard(harness, 1008)
    before = harness.stored(1008)
    for data in ("garbage", "1|ob.tz|0|AAAAAAAA", "1|ob.tt|0700|zzzzzzzz", "", "9|x|y"):
        answer = await user.press_data(data)
        assert answer is not None and "expired" in answer
    # A genuine button made for someone else:
    codec = harness.app.bot_data["services"].codec  # type: ignore[union-attr]
    answer = await user.press_data(codec.encode(9999, "ob.tz", 0))
    assert answer is not None and "expired" in answer
    assert harness.stored(1008) == before


async def test_cancel_leaves_a_typing_prompt(harness: BotHarness) -> None:
    user = await onboard(harness, 1009)
    await user.send("/timezone")
    await user.next_message()
    await user.press("Type my city")
    await user.next_message()
    await user.send("/cancel")
    assert "stopped" in (await user.next_message()).text
    await user.send("Berlin")
    assert "didn't catch" in (await user.next_message()).text


async def test_restart_keeps_everyone(harness: BotHarness) -> None:
    user = await onboard(harness, 1010)
    await harness.restart()
    await user.send("/start")
    assert "Welcome back" in (await user.next_message()).text


@pytest.mark.files_only
async def test_corrupt_file_is_moved_aside_and_others_are_served(harness: BotHarness) -> None:
    healthy = await onboard(harness, 1011)
    broken = await onboard(harness, 1012)
    await harness.stop()
    harness.user_file(1012).write_text('{"profile": {"1": {"tz": "Europe/Ber')  # torn write
    await harness.start()
    await healthy.send("/start")
    assert "Welcome back" in (await healthy.next_message()).text
    await broken.send("/start")
    assert "I'm Fibro Twitch Coach" in (await broken.next_message()).text  # a fresh start
    aside = list(harness.user_file(1012).parent.glob("1012.json.corrupt-*"))
    assert len(aside) == 1 and "Europe/Ber" in aside[0].read_text()


async def test_token_never_reaches_the_logs(harness: BotHarness) -> None:
    stream = io.StringIO()
    setup_logging(Secret(TOKEN), level=logging.DEBUG, stream=stream)
    try:
        harness.server.inject_failure(
            "sendMessage", error_code=500, description="Internal Server Error"
        )
        user = harness.user(1013)
        await user.send("/start")
        await user.next_message()
        await harness.restart()
    finally:
        logging.getLogger().handlers.clear()
    output = stream.getvalue()
    assert "update" in output and "failed" in output  # the error was logged...
    assert TOKEN not in output  # ...without the token
    assert TOKEN.split(":")[1] not in output
