"""Daily tips end to end: the real bot and push scheduler against the loopback Bot API.

The clock is a ManualClock set a few seconds before the tip time; the scheduler ticks on whole
minutes of that clock as in production, so a tip "at 08:00" arrives a second or two later. To
assert that nothing came, a test waits for a tick that began after its last move of the clock
and for every push that tick queued (`PushHarness.quiet`), then checks for silence.
"""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.harness import PushHarness, berlin, is_tip, onboard


async def test_tip_arrives_at_the_chosen_local_time_with_its_buttons(bot: PushHarness) -> None:
    user = await onboard(bot, 5001)  # Berlin, 08:00
    await bot.quiet(user)  # 07:00: nothing yet
    bot.clock.set(berlin(7, 59, 58.5))
    tip = await user.next_message(timeout=5)
    assert is_tip(tip)
    assert tip.labels == ["👍 Helpful", "🙅 Not for me", "⏸ Pause tips"]
    assert "Try today:" in tip.text
    assert bot.clock.now() >= berlin(8), "not before the chosen time"
    assert bot.stored_profile(5001)["last_tip_date"] == "2026-06-10"
    [entry] = bot.history(5001)
    assert entry["kind"] == "morning" and entry["feedback"] is None
    # Later the same day: still one tip.
    bot.clock.set(berlin(12))
    await bot.quiet(user)


async def test_no_second_tip_the_same_day_after_a_restart(bot: PushHarness) -> None:
    user = await onboard(bot, 5002)
    bot.clock.set(berlin(7, 59, 59.5))
    assert is_tip(await user.next_message(timeout=5))
    await bot.restart()  # rebuild: 08:00 is within the catch-up window, but already served
    bot.clock.set(berlin(8, 10))
    await bot.quiet(user)
    assert len(bot.history(5002)) == 1
    # The next morning it comes again.
    bot.clock.set(berlin(7, 59, 59.5, days=1))
    assert is_tip(await user.next_message(timeout=5))
    assert bot.stored_profile(5002)["last_tip_date"] == "2026-06-11"


async def test_missed_tip_is_sent_after_a_short_downtime(bot: PushHarness) -> None:
    user = await onboard(bot, 5003)
    await bot.stop()
    bot.clock.set(berlin(9, 29, 58))  # down from 07:00 to 09:30: the 08:00 tip was missed
    await bot.start()  # caught up at the first whole minute after start
    assert is_tip(await user.next_message(timeout=10))
    assert bot.stored_profile(5003)["last_tip_date"] == "2026-06-10"


async def test_a_tip_missed_by_hours_is_skipped(bot: PushHarness) -> None:
    user = await onboard(bot, 5004)
    await bot.stop()
    bot.clock.set(berlin(11, 30))  # 3.5 h late: too late for a "morning" tip
    await bot.start()
    await bot.quiet(user)
    assert "last_tip_date" not in bot.stored_profile(5004)


async def test_quiet_hours_hold_for_late_tips_but_not_a_chosen_night_time(
    bot: PushHarness,
) -> None:
    evening = await onboard(bot, 5005)
    await evening.send("/tiptime 21:00")
    await evening.next_message()
    night = await onboard(bot, 5006)
    await night.send("/tiptime 23:00")
    await night.next_message()
    await bot.stop()
    bot.clock.set(berlin(22, 10))  # back after 21:00, inside quiet hours
    await bot.start()
    await bot.quiet(evening)
    # 23:00 was chosen on purpose: it is sent then.
    bot.clock.set(berlin(22, 59, 59.5))
    assert is_tip(await night.next_message(timeout=5))
    await bot.quiet(evening)


async def test_429_then_success_delivers_the_tip_once(bot: PushHarness) -> None:
    user = await onboard(bot, 5007)
    bot.server.inject_failure("sendMessage", error_code=429, retry_after=1, chat_id=5007)
    bot.clock.set(berlin(7, 59, 59.5))
    assert is_tip(await user.next_message(timeout=8))
    await bot.quiet(user)
    assert sum(is_tip(m) for m in user.messages) == 1


async def test_blocked_user_is_unscheduled_and_start_brings_them_back(bot: PushHarness) -> None:
    user = await onboard(bot, 5008)
    user.block(notify=False)
    bot.clock.set(berlin(8, 0, 1))
    await bot.pushes.settled()  # the 403 at 08:00 marked them inactive
    assert bot.stored_profile(5008)["active"] is False
    await bot.pushes.settled()  # the next tick applies that change: unscheduled
    assert bot.next_tip_at(5008) is None
    user.unblock(notify=False)
    await user.send("/start")
    assert "Welcome back" in (await user.next_message()).text
    await bot.pushes.settled()
    assert bot.next_tip_at(5008) == berlin(8, days=1)
    bot.clock.set(berlin(7, 59, 59.5, days=1))
    assert is_tip(await user.next_message(timeout=5))


async def test_tip_command_is_not_the_morning_tip(bot: PushHarness) -> None:
    user = await onboard(bot, 5009)
    await user.send("/tip")
    on_demand = await user.next_message()
    assert is_tip(on_demand)
    assert "last_tip_date" not in bot.stored_profile(5009)
    await user.tap("💡 Tip")  # the menu button does the same
    assert is_tip(await user.next_message())
    bot.clock.set(berlin(7, 59, 59.5))
    morning = await user.next_message(timeout=5)
    assert is_tip(morning)
    kinds = [h["kind"] for h in bot.history(5009)]
    assert kinds == ["on_demand", "on_demand", "morning"]
    assert len({h["tip_id"] for h in bot.history(5009)}) == 3, "no repeats"


async def test_pause_skips_tips_and_resume_brings_them_back(bot: PushHarness) -> None:
    user = await onboard(bot, 5010)
    await user.send("/tips")
    panel = await user.next_message()
    assert "Every day at 08:00 (Berlin)" in panel.text
    answer = await user.press("Pause 1 day")
    assert answer is not None and "paused until Thu 11 Jun, 07:00" in answer
    panel = await user.next_message()
    assert "Paused until" in panel.text and "▶️ Resume" in panel.labels
    bot.clock.set(berlin(8, 0, 1))
    await bot.quiet(user)  # today's tip falls in the pause
    bot.clock.set(berlin(7, 59, 59.5, days=1))
    assert is_tip(await user.next_message(timeout=5))  # the pause is over
    # Pause 7 days from under the tip, then resume from /tips.
    await user.press("⏸ Pause tips")
    await user.next_message()  # buttons changed to the pause choices
    await user.press("7 days")
    assert (await user.next_message()).labels[0] == "👍 Helpful"  # the tip stays, buttons back
    assert bot.stored_profile(5010)["tips_paused_until"].startswith("2026-06-18")
    await user.send("/tips")
    await user.next_message()
    await user.press("▶️ Resume")
    panel = await user.next_message()
    assert "Every day at 08:00" in panel.text
    assert bot.stored_profile(5010)["tips_paused_until"] is None
    bot.clock.set(berlin(7, 59, 59.5, days=2))
    assert is_tip(await user.next_message(timeout=5))


async def test_feedback_is_stored_and_not_for_me_is_never_shown_again(bot: PushHarness) -> None:
    user = await onboard(bot, 5011)
    await user.send("/tip")
    first = await user.next_message()
    assert await user.press("👍 Helpful") == "Thanks! I'll keep tips like this coming."
    edited = await user.next_message()
    assert edited.labels == ["⏸ Pause tips"]
    # The old button pressed again (a double tap): noted once, nothing changes.
    again = await user.press_data(first.data_for("👍 Helpful"), first.message_id)
    assert again == "Already noted, thank you."
    await user.send("/tip")
    second = await user.next_message()
    await user.press("🙅 Not for me")
    await user.next_message()
    history = bot.history(5011)
    assert [h["feedback"] for h in history] == ["helpful", "not_for_me"]
    refused = history[1]["tip_id"]
    assert bot.stored_profile(5011)["tips_not_for_me"] == [refused]
    # Switch off every topic but the refused tip's one, then ask for its whole pool and more.
    topic = history[1]["topic"]
    await user.send("/tips")
    await user.next_message()
    await user.press("🗂 Topics")
    await user.next_message()
    labels = {
        "sleep": "Sleep",
        "stress": "Stress",
        "pacing": "Pacing",
        "hydration_electrolytes": "Fluids and minerals",
        "movement": "Gentle movement",
    }
    for other, label in labels.items():
        if other != topic:
            await user.press(f"✓ {label}")
            await user.next_message()
    for _ in range(16):
        await user.send("/tip")
        await user.next_message()
    shown = bot.history(5011)[2:]
    assert {h["topic"] for h in shown} == {topic}
    assert refused not in {h["tip_id"] for h in shown}
    assert is_tip(second)


async def test_forged_and_stale_tip_buttons_change_nothing(bot: PushHarness) -> None:
    user = await onboard(bot, 5012)
    other = await onboard(bot, 5013)
    await user.send("/tip")
    tip = await user.next_message()
    before = bot.stored(5012)
    # Another user's signed button replayed by this one: refused.
    await other.send("/tip")
    foreign = await other.next_message()
    answer = await user.press_data(foreign.data_for("👍 Helpful"), tip.message_id)
    assert answer == "That button has expired. Send /start for the menu."
    assert bot.stored(5012) == before


async def test_a_new_time_from_tips_takes_effect_at_once(bot: PushHarness) -> None:
    user = await onboard(bot, 5014)  # 08:00, now 07:00
    await user.send("/tips")
    await user.next_message()
    await user.press("⏰ Change time")
    await user.next_message()  # the tip-time question
    await user.press("07:00")  # already passed today: from tomorrow
    assert "07:00" in (await user.next_message()).text
    bot.clock.set(berlin(8, 0, 1))
    await bot.quiet(user)  # the old 08:00 no longer applies
    await user.send("/tiptime 09:30")
    await user.next_message()
    bot.clock.set(berlin(9, 29, 59.5))
    assert is_tip(await user.next_message(timeout=5))


async def test_morning_tips_can_be_switched_off_and_on(bot: PushHarness) -> None:
    user = await onboard(bot, 5015)
    await user.send("/tips")
    await user.next_message()
    assert await user.press("🔕 Turn morning tips off") == "🔕 Morning tips are off."
    panel = await user.next_message()
    assert "switched off" in panel.text and "🔕 Turn morning tips off" not in panel.labels
    assert bot.stored_profile(5015)["tips_enabled"] is False
    await bot.pushes.settled()  # the next tick applies the change
    assert bot.next_tip_at(5015) is None
    await user.press("▶️ Resume")
    assert "Every day at 08:00" in (await user.next_message()).text
    await bot.pushes.settled()
    assert bot.next_tip_at(5015) == berlin(8)


async def test_recent_check_ins_steer_the_topics(bot: PushHarness) -> None:
    user = await onboard(bot, 5016)
    assert bot.app is not None
    store = bot.app.bot_data["services"].store
    started = (berlin(7) - timedelta(days=1)).isoformat()
    for _ in range(4):  # four recent episodes blamed on poor sleep (the check-in contract)
        await store.insert(
            5016,
            "episodes",
            {
                "started_at": started,
                "tz": "Europe/Berlin",
                "intensity": 5,
                "regions": ["back"],
                "duration": "minutes",
                "triggers": ["poor_sleep"],
                "tried": [],
                "note": None,
                "source": "checkin",
                "created_at": started,
                "updated_at": started,
            },
        )
    for _ in range(10):
        await user.send("/tip")
        await user.next_message()
    topics = [h["topic"] for h in bot.history(5016)]
    counts = {topic: topics.count(topic) for topic in set(topics)}
    assert len(counts) == 5, "every topic still comes round"
    assert all(counts["sleep"] > n for topic, n in counts.items() if topic != "sleep"), counts
