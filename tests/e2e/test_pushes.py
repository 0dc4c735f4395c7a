"""Regression tests for the push scheduler's defects (issues 12 and 13), end to end, with the
production 60 s tick on whole minutes of the ManualClock."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.content import load_content
from bot.domain import zones
from bot.domain.coaching import Tip, TipLibrary
from bot.sandbox import LoopbackBotAPI
from tests.e2e.harness import PushHarness, berlin, is_tip, onboard
from tests.e2e.test_insights import seed, week_of_episodes


async def test_a_tip_time_set_seconds_before_it_comes_is_kept_for_today(bot: PushHarness) -> None:
    user = await onboard(bot, 6001)
    await user.send("/tiptime 09:00")
    await user.next_message()
    bot.clock.set(berlin(7, 59, 58))
    await user.send("/tiptime 08:00")  # two seconds before it comes
    assert "08:00" in (await user.next_message()).text
    tip = await user.next_message(timeout=15)
    assert is_tip(tip)
    assert bot.clock.now() < berlin(8, 0, 5)


async def test_ticks_are_aligned_to_the_minute(bot: PushHarness) -> None:
    user = await onboard(bot, 6002)  # 08:00
    await bot.stop()
    bot.clock.set(berlin(7, 59, 57))  # started 3 s before the minute: ticks from start-up
    await bot.start()  # would come at 08:00:57
    tip = await user.next_message(timeout=15)
    assert is_tip(tip)
    assert berlin(8) <= bot.clock.now() < berlin(8, 0, 5)


SUNDAY_EVENING = datetime(2026, 11, 29, 17, 10, tzinfo=UTC)  # 18:10 in Berlin


async def test_weekly_summary_is_claimed_before_sending_and_never_sent_twice(
    bot: PushHarness, caplog: pytest.LogCaptureFixture
) -> None:
    bot.clock.set(SUNDAY_EVENING - timedelta(days=4))
    user = await onboard(bot, 6003)
    await user.press("Not now")
    await user.next_message()
    one_place = [{**e, "regions": ["face"]} for e in week_of_episodes(SUNDAY_EVENING)]
    await seed(bot, 6003, "episodes", one_place)
    await user.send("/week")  # on Wednesday the seeded days are still to come: text only
    await user.next_message()
    await user.press("Sunday evenings")
    await user.next_message()
    photos_before = len(user.photos)
    # Every text message to this person fails (our markup rejected, say); the photo goes through.
    bot.server.inject_failure(
        "sendMessage", error_code=400, description="Bad Request: can't parse", chat_id=6003,
        times=None,
    )  # fmt: skip
    with caplog.at_level(logging.ERROR):
        bot.clock.set(SUNDAY_EVENING)
        await bot.pushes.settled()
        bot.clock.set(SUNDAY_EVENING + timedelta(minutes=20))
        await bot.pushes.settled()
    assert len(user.photos) == photos_before + 1, "the photo of one push, once"
    assert bot.stored_profile(6003)["weekly_sent_week"] == "2026-W48"
    # The log names the error and where it happened, never what was being sent.
    [failure] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.startswith("push weekly not sent: BadRequest at telegram/delivery.py:")
    assert "parse" not in failure and "Episodes" not in failure


async def test_a_tip_that_cannot_be_rendered_is_replaced_and_logged_with_its_place(
    loopback: LoopbackBotAPI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    content = load_content()
    # Damaged content that slipped past the checks: the only sleep tip has no body.
    broken = Tip.model_construct(
        id="broken_tip", topic="sleep", title="Broken", body=None, try_today=None, source="x"
    )
    others = tuple(t for t in content.tips.tips if t.topic != "sleep")
    content = dataclasses.replace(
        content, tips=TipLibrary((broken, *others), content.tips.sources)
    )
    harness = PushHarness(loopback, tmp_path / "data", ManualClock(berlin(7)))
    await harness.start(content=content)
    try:
        user = await onboard(harness, 6004)
        harness.clock.set(berlin(7, 59, 59))
        with caplog.at_level(logging.ERROR):
            tip = await user.next_message(timeout=15)
        assert is_tip(tip) and "Broken" not in tip.text
        [entry] = harness.stored(6004)["tips"].values()
        assert entry["tip_id"] != "broken_tip"
        failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert any("AttributeError" in m and "tips.py:" in m for m in failures), failures
    finally:
        await harness.stop()


async def test_a_blocked_person_is_marked_inactive_by_the_weekly_photo(bot: PushHarness) -> None:
    bot.clock.set(SUNDAY_EVENING - timedelta(days=4))
    user = await onboard(bot, 6005)
    await seed(bot, 6005, "episodes", week_of_episodes(SUNDAY_EVENING))  # a chart comes first
    await user.send("/week")
    await user.next_message()
    await user.press("Sunday evenings")
    await user.next_message()
    user.block(notify=False)
    bot.clock.set(SUNDAY_EVENING)
    await bot.pushes.settled()
    assert bot.stored_profile(6005)["active"] is False
    assert bot.server.count("sendPhoto") == 1 and user.photos == []
    await bot.pushes.settled()  # the change reaches the scheduler: nothing more for them
    assert all(bot.pushes.next_at(kind, 6005) is None for kind in bot.pushes.kinds)


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        ("Asia/Kolkata", datetime(2026, 6, 10, tzinfo=UTC)),  # UTC+5:30
        ("Europe/Berlin", datetime(2026, 3, 29, tzinfo=UTC)),  # clocks go forward at 02:00
        ("Europe/Berlin", datetime(2026, 10, 25, tzinfo=UTC)),  # and back at 03:00
    ],
)
async def test_the_push_comes_at_the_local_minute_in_odd_zones_and_on_dst_days(
    bot: PushHarness, zone: str, day: datetime
) -> None:
    def local(hour: int, minute: int = 0, second: float = 0) -> datetime:
        naive = datetime(day.year, day.month, day.day, hour, minute)
        return naive.replace(tzinfo=zones.zone(zone)).astimezone(UTC) + timedelta(seconds=second)

    bot.clock.set(local(1))  # the night before the change, where there is one
    user = await onboard(bot, 6006)
    await user.send(f"/timezone {zone}")
    await user.next_message()
    bot.clock.set(local(7, 59, 58))
    tip = await user.next_message(timeout=15)
    assert is_tip(tip)
    assert local(8) <= bot.clock.now() < local(8, 0, 5)
    assert bot.stored_profile(6006)["last_tip_date"] == day.date().isoformat()
