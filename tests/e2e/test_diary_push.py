"""The evening check as a push, end to end: the real bot and the one push scheduler (ticking on
whole minutes of the injected clock, as in production) against the loopback Bot API.

To assert that nothing came, a test waits for a tick that began after its last move of the
clock and for every push that tick queued (`PushHarness.quiet`), then checks for silence.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.sandbox import FakeUser
from tests.e2e.harness import PushHarness, onboard

QUESTION = "How were the twitches today, overall?"


async def set_evening_check(user: FakeUser, label: str) -> None:
    """/settings -> Evening check -> Change time -> ``label``."""
    await user.send("/settings")
    await user.next_message()
    await user.press("🌙 Evening check")
    await user.next_message()
    await user.press("⏰ Change time")
    await user.next_message()
    assert await user.press(label) == f"✓ Evening check at {label}."
    await user.next_message()


async def arrives_at_its_minute(bot: PushHarness, user: FakeUser, due: datetime) -> float:
    """Wait for the diary; return how many seconds after its minute it left (it must be 0-5)."""
    message = await user.next_message(timeout=60)
    late = (bot.clock.now() - due).total_seconds()
    assert QUESTION in message.text and message.labels == ["None", "A little", "Moderate", "A lot"]
    assert 0 <= late < 5, f"the diary left {late:.2f} s after its minute"
    return late


async def test_the_diary_arrives_at_the_chosen_minute_in_kolkata(bot: PushHarness) -> None:
    bot.clock.set(datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    user = await onboard(bot, 9101)
    await user.send("/timezone Asia/Kolkata")  # UTC+05:30, no DST
    await user.next_message()
    due = datetime(2026, 6, 10, 15, 30, tzinfo=UTC)  # 21:00 in Kolkata
    bot.clock.set(due - timedelta(seconds=30))
    await set_evening_check(user, "21:00")  # chosen 30 s before it comes
    late = await arrives_at_its_minute(bot, user, due)
    print(f"\ndiary push in Asia/Kolkata left {late:.2f} s after 21:00")
    assert bot.stored_profile(9101)["diary_sent_date"] == "2026-06-10"
    # One tap stores the day, from the pushed message itself.
    await user.press("A little")
    assert "Saved for Wed 10 Jun" in (await user.next_message()).text
    [day] = bot.stored(9101)["diary_days"].values()
    assert day["date"] == "2026-06-10" and day["rating"] == 1 and day["tz"] == "Asia/Kolkata"


async def test_the_diary_keeps_its_local_time_on_the_day_clocks_change_in_berlin(
    bot: PushHarness,
) -> None:
    # Sunday 29 March 2026: Berlin moves from UTC+1 to UTC+2 at 02:00.
    bot.clock.set(datetime(2026, 3, 28, 9, 0, tzinfo=UTC))
    user = await onboard(bot, 9102, diary="✓ Yes, at 20:00")
    due = datetime(2026, 3, 29, 18, 0, tzinfo=UTC)  # 20:00 CEST
    bot.clock.set(due - timedelta(seconds=30))
    await set_evening_check(user, "20:00")
    late = await arrives_at_its_minute(bot, user, due)
    print(f"\ndiary push in Europe/Berlin on its DST day left {late:.2f} s after 20:00")
    assert bot.stored_profile(9102)["diary_sent_date"] == "2026-03-29"


async def test_no_second_diary_the_same_day_across_a_restart(bot: PushHarness) -> None:
    bot.clock.set(datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    user = await onboard(bot, 9103, diary="✓ Yes, at 20:00")
    bot.clock.set(datetime(2026, 6, 10, 18, 0, tzinfo=UTC))  # 20:00 in Berlin
    await bot.pushes.settled()
    assert QUESTION in (await user.next_message()).text
    await bot.restart()
    bot.clock.set(datetime(2026, 6, 10, 18, 10, tzinfo=UTC))  # within the catch-up window
    await bot.quiet(user)
    # The next evening it comes again.
    bot.clock.set(datetime(2026, 6, 11, 18, 0, tzinfo=UTC))
    await bot.pushes.settled()
    assert QUESTION in (await user.next_message()).text
    assert bot.stored_profile(9103)["diary_sent_date"] == "2026-06-11"


async def test_missed_diary_comes_later_the_same_evening_not_in_quiet_hours(
    bot: PushHarness,
) -> None:
    bot.clock.set(datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    late = await onboard(bot, 9104, diary="✓ Yes, at 20:00")
    await bot.stop()
    bot.clock.set(datetime(2026, 6, 10, 19, 15, tzinfo=UTC))  # back at 21:15 in Berlin
    await bot.start()
    await bot.pushes.settled()
    assert QUESTION in (await late.next_message()).text
    # Down through the whole evening, back at 22:30: it waits for tomorrow, no night message.
    await bot.stop()
    bot.clock.set(datetime(2026, 6, 11, 20, 30, tzinfo=UTC))
    await bot.start()
    await bot.quiet(late)


async def test_a_recorded_day_gets_no_push(bot: PushHarness) -> None:
    bot.clock.set(datetime(2026, 6, 10, 12, 0, tzinfo=UTC))
    user = await onboard(bot, 9105, diary="✓ Yes, at 20:00")
    await user.press("Not now")  # the red-flag offer
    await user.next_message()
    await user.send("/diary")
    await user.next_message()
    await user.press("None")
    await user.next_message()
    bot.clock.set(datetime(2026, 6, 10, 18, 0, tzinfo=UTC))
    await bot.quiet(user)


async def test_seven_unanswered_evenings_then_one_question_then_silence(
    bot: PushHarness,
) -> None:
    bot.clock.set(datetime(2026, 6, 1, 12, 0, tzinfo=UTC))
    user = await onboard(bot, 9106, diary="✓ Yes, at 20:00")
    user.mark_seen()
    for evening in range(7):
        bot.clock.set(datetime(2026, 6, 1 + evening, 18, 0, tzinfo=UTC))
        await bot.pushes.settled()
        assert QUESTION in (await user.next_message()).text, f"evening {evening + 1}"
    bot.clock.set(datetime(2026, 6, 8, 18, 0, tzinfo=UTC))
    await bot.pushes.settled()
    question = await user.next_message()
    assert "Is 20:00 still a good time for the evening check?" in question.text
    assert question.labels == ["⏰ Change time", "⏸ Pause a week", "🔕 Turn off"]
    for evening in (9, 10, 11):
        bot.clock.set(datetime(2026, 6, evening, 18, 0, tzinfo=UTC))
        await bot.quiet(user)
    profile = bot.stored_profile(9106)
    assert profile["diary_quiet"] is True and profile["diary_unanswered"] == 7
    # Choosing a new time makes it welcome again.
    await user.press("⏰ Change time")
    await user.next_message()
    await user.press("21:00")
    await user.next_message()
    bot.clock.set(datetime(2026, 6, 12, 19, 0, tzinfo=UTC))
    await bot.pushes.settled()
    assert QUESTION in (await user.next_message()).text
