"""Relief right now, driven as a user through the loopback Bot API.

Timers are real JobQueue jobs; they are made short through Settings.time_scale (COACH_TIME_SCALE),
never by patching sleep. The ManualClock moves stored time while the bot is down.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.sandbox.client import BotMessage
from bot.telegram.callbacks import CallbackCodec
from tests.conftest import Backend
from tests.e2e.harness import BotHarness, onboard

FAST = 0.001  # a 30 s hold takes 35 ms, a 10 min follow-up 0.6 s
SLOWER = 0.01  # a 10 min follow-up takes 6 s of real time: restarts happen well before it


class ScaledHarness(BotHarness):
    def __init__(self, *args: Any, time_scale: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.time_scale = time_scale

    @property
    def settings(self) -> Settings:
        return dataclasses.replace(super().settings, time_scale=self.time_scale)


async def _harness(server: LoopbackBotAPI, backend: Backend, scale: float) -> BotHarness:
    bot = ScaledHarness(
        server, backend.data_dir, ManualClock(), time_scale=scale, database_url=backend.url
    )
    await bot.start()
    return bot


@pytest.fixture
async def fast(loopback: LoopbackBotAPI, backend: Backend) -> AsyncIterator[BotHarness]:
    bot = await _harness(loopback, backend, FAST)
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def slower(loopback: LoopbackBotAPI, backend: Backend) -> AsyncIterator[BotHarness]:
    bot = await _harness(loopback, backend, SLOWER)
    try:
        yield bot
    finally:
        await bot.stop()


def _runs(bot: BotHarness, uid: int) -> list[dict[str, Any]]:
    return list(bot.stored(uid).get("relief_runs", {}).values())


def _codec(bot: BotHarness) -> CallbackCodec:
    assert bot.app is not None
    return bot.app.bot_data["services"].codec


async def _start_calf_routine(user: FakeUser) -> None:
    """Menu -> region -> first step: exactly two taps."""
    await user.tap("🌀 Twitching now")  # tap 1
    picker = await user.next_message()
    assert "Where is it twitching?" in picker.text
    await user.press("Calves or feet")  # tap 2
    first = await user.next_message()
    assert first.is_edit and first.message_id == picker.message_id
    assert "Calf stretch at a wall" in first.text and "step 1 of 4" in first.text
    # Done standing, so the seated stretch is one tap away.
    assert first.labels == ["Next ▶", "Skip ⏭", "Stop ■", "🪑 Seated foot and calf stretch instead"]


async def _after_timer(user: FakeUser) -> BotMessage:
    """The new message a timer's end brings, once the message it replaces is deleted."""
    new = await user.next_event()
    assert not new.is_edit and not new.is_deleted and "Time's up" in new.text
    gone = await user.next_event()
    assert gone.is_deleted and gone.message_id != new.message_id
    return new


async def test_two_taps_to_first_step_hold_advances_followup_answer_stored(
    fast: BotHarness,
) -> None:
    user = await onboard(fast, 4001)
    await _start_calf_routine(user)
    run = _runs(fast, 4001)[0]
    assert run["status"] == "running" and run["region"] == "calves_feet"
    assert run["routine_id"] == "calf_stretch"

    await user.press("Next ▶")
    second = await user.next_message()
    assert "step 2 of 4" in second.text and "hold the stretch for 30 s" in second.text
    sends = fast.server.count("sendMessage")
    # Nobody presses anything: each hold ends by itself, twice. The bot says so in a NEW message
    # (a sendMessage: the phone signals it, an edit is silent) and deletes the old one.
    third = await user.next_event()
    assert not third.is_edit and not third.is_deleted
    assert (
        third.text.startswith("✓ Time's up: let go of the stretch") and "step 3 of 4" in third.text
    )
    deleted = await user.next_event()
    assert deleted.is_deleted and deleted.message_id == second.message_id
    fourth = await user.next_event()
    assert not fourth.is_edit and "Time's up" in fourth.text and "step 4 of 4" in fourth.text
    assert (await user.next_event()).is_deleted
    assert fast.server.count("sendMessage") == sends + 2
    # One routine message is left in the chat.
    assert [m.message_id for m in user.messages if "Calf stretch" in m.text] == [fourth.message_id]

    await user.press("Skip ⏭")
    end = await user.next_message()
    assert "Done" in end.text and "in 10 min" in end.text
    assert end.labels == [
        "📝 Log this episode",
        "🔁 Try another routine",
        "⏰ Ask me at another time",
    ]
    # "Log this episode" goes to the check-in feature with the region and routine filled in.
    log_button = _codec(fast).decode(4001, end.data_for("📝 Log this episode"))
    assert (log_button.route, log_button.args) == ("ck.new", ("calves_feet", "calf_stretch"))
    run = _runs(fast, 4001)[0]
    assert run["status"] == "finished" and run["ended_at"] and run["followup_due_at"]
    assert run["followup_sent_at"] is None

    followup = await user.next_message(timeout=5)
    assert not followup.is_edit and "How is the twitching now" in followup.text
    assert followup.labels == ["😌 Much better", "🙂 A bit better", "😐 The same", "😣 Worse"]
    await user.press("🙂 A bit better")
    thanks = await user.next_message()
    assert "noted" in thanks.text
    run = _runs(fast, 4001)[0]
    assert run["outcome"] == "a_bit_better" and run["answered_at"] and run["followup_sent_at"]
    assert set(run) == {
        "routine_id",
        "region",
        "started_at",
        "ended_at",
        "status",
        "followup_due_at",
        "followup_sent_at",
        "outcome",
        "answered_at",
    }
    # Answering again changes nothing.
    answer = await user.press_data(followup.data_for("😣 Worse"), followup.message_id)
    assert answer == "Already noted, thank you."
    assert _runs(fast, 4001)[0]["outcome"] == "a_bit_better"
    await fast.user_jobs_done(4001)  # no follow-up left to send...
    await user.expect_no_more()  # ...and none came after the one answered


async def test_stale_and_forged_buttons_change_nothing(fast: BotHarness) -> None:
    user = await onboard(fast, 4002)
    await _start_calf_routine(user)
    picker_press = user.callback_answers[-1]
    replay = await user.press_data(picker_press.data, picker_press.message_id)  # a double tap
    assert replay == "That step has already moved on."
    assert len(_runs(fast, 4002)) == 1
    step1 = user.last_message
    assert step1 is not None
    old_next = step1.data_for("Next ▶")
    await user.press("Next ▶")
    await user.next_message()  # step 2
    await _after_timer(user)  # step 3 (by itself)
    await _after_timer(user)  # step 4
    before = fast.stored(4002)
    assert await user.press_data(old_next) == "That step has already moved on."
    codec = _codec(fast)
    for data in (
        codec.encode(4002, "rl.nx", 99, 0),  # no such run
        codec.encode(4002, "rl.nx", "x", 0),  # not a number
        codec.encode(4002, "rl.reg", "elbow"),  # no such region
        codec.encode(4002, "rl.go", "face", "calf_stretch"),  # routine not for that region
        codec.encode(4002, "rl.fu", 1, "great"),  # not an answer
        codec.encode(4002, "rl.fu", 1, "same"),  # no follow-up was sent yet
        codec.encode(9999, "rl.st", 1, 3),  # someone else's button
        "1|rl.st|1|3|AAAAAAAA",  # forged signature
    ):
        answer = await user.press_data(data)
        assert answer is not None and ("expired" in answer or "ended" in answer), data
    assert fast.stored(4002) == before
    await user.press("Stop ■")
    assert "stopped" in (await user.next_message()).text
    stopped = fast.stored(4002)
    assert await user.press_data(old_next) == "That routine has already ended."
    assert fast.stored(4002) == stopped


async def test_restart_between_end_and_followup_delivers_it_once(slower: BotHarness) -> None:
    user = await onboard(slower, 4003)
    await _start_calf_routine(user)
    await user.press("Stop ■")
    end = await user.next_message()
    assert "stopped" in end.text
    await slower.stop()
    run = _runs(slower, 4003)[0]
    assert run["status"] == "stopped" and run["followup_sent_at"] is None
    slower.clock.advance(timedelta(seconds=5))  # 1 of the 6 scaled seconds is left

    await slower.start()
    followup = await user.next_message(timeout=5)
    assert "How is the twitching now" in followup.text
    sent_at = _runs(slower, 4003)[0]["followup_sent_at"]
    assert sent_at
    await slower.restart()
    await slower.user_jobs_done(4003)  # whatever the restart armed has run
    await user.expect_no_more()
    assert _runs(slower, 4003)[0]["followup_sent_at"] == sent_at
    await user.press("😌 Much better")
    await user.next_message()
    assert _runs(slower, 4003)[0]["outcome"] == "much_better"


async def test_followup_late_by_minutes_is_sent_by_hours_is_dropped(slower: BotHarness) -> None:
    late = await onboard(slower, 4004)
    very_late = await onboard(slower, 4005)
    await _start_calf_routine(late)
    await late.press("Stop ■")
    await late.next_message()
    await slower.stop()
    slower.clock.advance(timedelta(minutes=50))  # the follow-up is ~50 min late: still sent
    await slower.start()
    assert "How is the twitching now" in (await late.next_message(timeout=5)).text

    await _start_calf_routine(very_late)
    await very_late.press("Stop ■")
    await very_late.next_message()
    await slower.stop()
    slower.clock.advance(timedelta(hours=2))
    await slower.start()
    await slower.user_jobs_done(4005)
    await very_late.expect_no_more()
    run = _runs(slower, 4005)[0]
    assert run["followup_sent_at"] is None  # dropped silently: the rebuild skipped this person
    assert slower.app is not None and slower.app.job_queue is not None
    assert not slower.app.job_queue.get_jobs_by_name("rl.fu.u4005")


async def test_hold_resumes_after_restart(slower: BotHarness) -> None:
    user = await onboard(slower, 4006)
    await user.send("/relief")
    await user.next_message()
    await user.press("Calves or feet")
    await user.next_message()
    await user.press("Stop ■")
    await user.next_message()
    await user.press("Try another routine")
    other = await user.next_message()
    assert "Another routine for Calves or feet" in other.text
    assert "Calf stretch at a wall" not in other.labels
    await user.press("Warmth on the muscle")
    await user.next_message()
    list_press = user.callback_answers[-1]
    replay = await user.press_data(list_press.data, list_press.message_id)  # a double tap
    assert replay == "That step has already moved on."
    await user.press("Next ▶")
    hold = await user.next_message()
    assert "Keep this going for about 10 min" in hold.text  # 605 s: 6 s at this scale
    await slower.stop()
    slower.clock.advance(timedelta(seconds=6))
    await slower.start()
    resumed = await _after_timer(user)
    assert "step 3 of 3" in resumed.text
    assert hold.message_id not in [m.message_id for m in user.messages]  # replaced
    runs = _runs(slower, 4006)
    # Starting "warmth" replaced the first run's follow-up: only one question will come.
    assert runs[0]["followup_due_at"] is None and runs[1]["routine_id"] == "warmth"


async def test_best_so_far_is_offered_first(fast: BotHarness) -> None:
    user = await onboard(fast, 4007)
    assert fast.app is not None
    fast.app.bot_data["relief_rng"] = _NeverExplore()
    store = fast.app.bot_data["services"].store
    for routine_id, outcome in (("foot_and_calf_seated", "much_better"),) * 2 + (
        ("calf_stretch", "worse"),
    ):
        await store.insert(4007, "relief_runs", _answered(routine_id, outcome))
    await user.tap("🌀 Twitching now")
    picker = await user.next_message()
    assert "Your best so far for Calves or feet: Seated foot and calf stretch" in picker.text
    await user.press("Calves or feet")
    first = await user.next_message()
    assert "Seated foot and calf stretch" in first.text and "best so far here" in first.text


async def test_untried_routine_offered_with_best_one_tap_away(fast: BotHarness) -> None:
    user = await onboard(fast, 4008)
    assert fast.app is not None
    fast.app.bot_data["relief_rng"] = _AlwaysExplore()
    store = fast.app.bot_data["services"].store
    await store.insert(4008, "relief_runs", _answered("neck_shoulder_release", "much_better"))
    await user.send("/relief")
    await user.next_message()
    await user.press("Neck or shoulders")
    first = await user.next_message()
    assert "Something new to try" in first.text
    assert "Neck and shoulder release" not in first.text.split("\n")[0]
    await user.press("⭐ Neck and shoulder release instead")
    best = await user.next_message()
    assert best.message_id == first.message_id and "Neck and shoulder release" in best.text
    best_press = user.callback_answers[-1]
    assert await user.press_data(best_press.data, best_press.message_id) == (
        "That step has already moved on."
    )
    runs = _runs(fast, 4008)
    assert [r["status"] for r in runs] == ["finished", "stopped", "running"]
    assert runs[1]["followup_due_at"] is None  # replaced at once: no question about it


async def test_start_link_cancel_and_followup_delay(fast: BotHarness) -> None:
    user = await onboard(fast, 4009)
    codec = _codec(fast)
    # Another feature's message links to rl.start with a region: a new message, first step.
    await user.send("/help")
    help_message = await user.next_message()
    await user.press_data(codec.encode(4009, "rl.start", "face"), help_message.message_id)
    first = await user.next_message()
    assert not first.is_edit and "Calm the face and eyelid" in first.text
    await user.send("/cancel")
    assert "stopped" in (await user.next_message()).text
    run = _runs(fast, 4009)[0]
    assert run["status"] == "stopped" and run["followup_due_at"] is None
    assert await user.press_data(first.data_for("Next ▶"), first.message_id) == (
        "That routine has already ended."
    )

    await user.press_data(codec.encode(4009, "rl.start"), help_message.message_id)
    assert "Where is it twitching?" in (await user.next_message()).text
    await user.press("Back")
    await user.next_message()
    await user.press("Stop ■")
    await user.next_message()
    await user.press("Ask me at another time")
    choices = await user.next_message()
    assert choices.labels == ["in 5 min", "in 10 min", "in 15 min", "in 20 min", "in 30 min"]
    await user.press("in 30 min")
    end = await user.next_message()
    assert "in 30 min" in end.text
    assert fast.stored_profile(4009)["relief_followup_minutes"] == 30
    run = _runs(fast, 4009)[-1]  # moved to 30 (scaled) minutes after the end, one timer
    due = datetime.fromisoformat(run["followup_due_at"])
    assert due - datetime.fromisoformat(run["ended_at"]) == timedelta(minutes=30 * FAST)
    assert fast.user_jobs(4009) == ["rl.fu.u4009"]
    assert "How is the twitching now" in (await user.next_message(timeout=5)).text


class _NeverExplore:
    def random(self) -> float:
        return 0.99


class _AlwaysExplore:
    def random(self) -> float:
        return 0.0


def _answered(routine_id: str, outcome: str) -> dict[str, Any]:
    stamp = "2026-01-01T10:00:00+00:00"
    region = "calves_feet" if routine_id != "neck_shoulder_release" else "neck_shoulders"
    return {
        "routine_id": routine_id,
        "region": region,
        "started_at": stamp,
        "ended_at": stamp,
        "status": "finished",
        "followup_due_at": stamp,
        "followup_sent_at": stamp,
        "outcome": outcome,
        "answered_at": stamp,
    }


async def test_no_followup_for_someone_who_blocked_the_bot(fast: BotHarness) -> None:
    user = await onboard(fast, 4010)
    await user.tap("🌀 Twitching now")
    await user.next_message()
    await user.press("Many places at once")
    first = await user.next_message()
    assert "Slow breathing" in first.text  # doable anywhere, so it comes first here
    await user.press("Stop ■")
    await user.next_message()
    user.block()
    assert fast.app is not None and fast.app.job_queue is not None
    queue = fast.app.job_queue
    assert queue.get_jobs_by_name("rl.fu.u4010")  # armed...
    await fast.user_jobs_done(4010)  # ...and it has run (after 0.6 s) while they blocked the bot
    await user.expect_silence(0)  # nothing unseen now that it has run
    run = _runs(fast, 4010)[0]
    assert run["followup_sent_at"] is None and fast.stored_profile(4010)["active"] is False
    assert not [m for m in user.messages if "How is the twitching now" in m.text]


async def test_log_this_episode_after_relief_prefills_region_and_routine(
    slower: BotHarness,
) -> None:
    user = await onboard(slower, 4090)
    await _start_calf_routine(user)
    for _ in range(3):
        await user.press("Skip ⏭")
        await user.next_message()
    await user.press("Skip ⏭")
    end = await user.next_message()
    assert "📝 Log this episode" in end.labels
    await user.press("📝 Log this episode")
    intensity = await user.next_message()
    assert not intensity.is_edit and "How strong" in intensity.text
    await user.press("4")
    regions = await user.next_message()
    assert "✓ Calves or feet" in regions.labels  # prefilled from the routine
    await user.press("Done ✓")
    await user.next_message()
    await user.press("Minutes")
    await user.next_message()
    await user.press("💾 Save")
    saved = await user.next_message()
    assert "Saved" in saved.text
    episode = next(iter(slower.stored(4090)["episodes"].values()))
    assert episode["source"] == "relief" and episode["tried"] == ["calf_stretch"]
    assert episode["regions"] == ["calves_feet"] and episode["intensity"] == 4


async def test_forget_mid_routine_stops_its_timers(slower: BotHarness) -> None:
    user = await onboard(slower, 4091)
    await _start_calf_routine(user)
    await user.press("Next ▶")
    hold = await user.next_message()
    assert "hold the stretch for 30 s" in hold.text  # a hold timer is now pending
    assert slower.app is not None and slower.app.job_queue is not None
    assert any(j.name == "rl.hold.u4091" for j in slower.app.job_queue.jobs())
    await user.send("/forget")
    await user.next_message()
    await user.press("Yes, delete everything")
    assert "deleted" in (await user.next_message()).text
    await slower.user_jobs_done(4091)  # the hold timer is gone (had it stayed, it has run)
    await user.expect_no_more()  # and it sent nothing
    assert not slower.has_data(4091)


async def test_after_a_timer_the_old_message_is_stale_even_if_it_cannot_be_deleted(
    slower: BotHarness,
) -> None:
    """Deleting can fail (a message already gone or too old): the old message then loses its
    buttons, and a press that still arrives from it is stale and changes nothing."""
    user = await onboard(slower, 4092)
    assert slower.app is not None
    slower.app.bot_data["relief_rng"] = _AlwaysExplore()
    store = slower.app.bot_data["services"].store
    best = _answered("warmth", "much_better") | {"region": "arms_hands"}
    await store.insert(4092, "relief_runs", best)
    slower.server.inject_failure(
        "deleteMessage", error_code=400, description="Bad Request: message can't be deleted",
        times=None, chat_id=4092,
    )  # fmt: skip
    await user.send("/relief")
    await user.next_message()
    await user.press("Arms or hands")
    first = await user.next_message()  # step 1 holds 20 s (0.25 s here), offering the best one
    assert "Hand and forearm stretch" in first.text and "step 1 of 4" in first.text
    assert "⭐ Warmth on the muscle instead" in first.labels
    second = await user.next_message()
    assert not second.is_edit and "Time's up" in second.text and "step 2 of 4" in second.text
    stripped = await user.next_message()  # not deleted: its buttons are taken off instead
    assert stripped.is_edit and stripped.message_id == first.message_id and not stripped.labels
    third = await user.next_message()  # step 2's hold ended too; step 3 waits for a tap
    assert "step 3 of 4" in third.text
    assert (await user.next_message()).message_id == second.message_id
    old = {m.message_id: m for m in user.messages}
    assert old[first.message_id].labels == [] and old[second.message_id].labels == []
    before = slower.stored(4092)
    for label in ("⭐ Warmth on the muscle instead", "Next ▶", "Stop ■"):
        answer = await user.press_data(first.data_for(label), first.message_id)
        assert answer == "That step has already moved on.", label
    assert await user.press_data(second.data_for("Next ▶"), second.message_id) == (
        "That step has already moved on."
    )
    assert slower.stored(4092) == before
    assert [r["status"] for r in _runs(slower, 4092)] == ["finished", "running"]
    slower.server.clear_faults()


async def test_the_seated_version_is_one_tap_from_a_standing_routine(fast: BotHarness) -> None:
    user = await onboard(fast, 4093)
    await _start_calf_routine(user)
    await user.press("🪑 Seated foot and calf stretch instead")
    seated = await user.next_message()
    assert seated.is_edit and "Seated foot and calf stretch" in seated.text
    assert "🪑" not in " ".join(seated.labels)
    runs = _runs(fast, 4093)
    assert [r["routine_id"] for r in runs] == ["calf_stretch", "foot_and_calf_seated"]
    assert [r["status"] for r in runs] == ["stopped", "running"]


async def test_worse_after_a_routine_offers_rest_first_then_another(fast: BotHarness) -> None:
    user = await onboard(fast, 4094)
    await _start_calf_routine(user)
    await user.press("Stop ■")
    await user.next_message()
    await user.next_message(timeout=5)  # how is the twitching now?
    await user.press("😣 Worse")
    reply = await user.next_message()
    assert reply.text.index("Rest first") < reply.text.index("another routine")
    assert reply.labels == ["🔁 Try another routine"]
