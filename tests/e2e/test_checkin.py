"""Logging episodes through the real bot and the loopback Bot API, then reading the TinyDB file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox import FakeUser
from bot.sandbox.client import BotMessage
from tests.e2e.harness import BotHarness, onboard

MENU = "📝 Log an episode"
NOON_BERLIN = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


def episodes(harness: BotHarness, user_id: int) -> list[dict[str, Any]]:
    """The user's stored episodes, straight from the file on disk."""
    return list(harness.stored(user_id).get("episodes", {}).values())


def draft(harness: BotHarness, user_id: int) -> dict[str, Any] | None:
    state = harness.stored(user_id).get("state", {})
    return next(iter(state.values()), {}).get("checkin") if state else None


async def settled(harness: BotHarness, user_id: int) -> dict[str, Any]:
    """The stored draft once the bot has recorded which message shows it (it does so right
    after sending, so a test reading the file straight away could be a moment early)."""
    for _ in range(200):
        current = draft(harness, user_id) if harness.has_data(user_id) else None
        if current and current.get("message_id"):
            return current
        await asyncio.sleep(0.01)
    raise AssertionError("the draft was never stored")


async def taps(user: FakeUser, *labels: str) -> BotMessage:
    """Press buttons in order, each on the message the previous one left; return the last view."""
    shown = None
    for label in labels:
        answer = await user.press(label)
        assert answer is None, f"{label!r} was refused: {answer}"
        shown = await user.next_message()
    assert shown is not None
    return shown


async def full_checkin(user: FakeUser) -> BotMessage:
    await user.tap(MENU)
    await user.next_message()
    return await taps(user, "6", "Back", "Calves or feet", "Done ✓", "Minutes", "Stress", "💾 Save")


async def ready(harness: BotHarness, user_id: int) -> FakeUser:
    harness.clock.set(NOON_BERLIN)
    return await onboard(harness, user_id)


async def test_full_checkin_in_six_taps(harness: BotHarness) -> None:
    user = await ready(harness, 3001)
    await user.tap(MENU)
    first = await user.next_message()
    assert "How strong" in first.text and "0 = none" in first.text
    assert first.buttons[0] == ["0", "1", "2", "3", "4", "5"]
    assert first.buttons[1] == ["6", "7", "8", "9", "10"]
    assert "↺ Same as last time" not in first.labels  # nothing to copy yet
    assert "✕ Cancel" in first.labels

    before = len(user.callback_answers)
    regions = await taps(user, "6")
    assert regions.is_edit and regions.message_id == first.message_id and "Where" in regions.text
    picked = await taps(user, "Calves or feet")
    assert "✓ Calves or feet" in picked.labels and "✓ Back" not in picked.labels
    triggers = await taps(user, "Done ✓", "Minutes", "Stress")
    assert "✓ Stress" in triggers.labels and "✍️ Add a note" in triggers.labels
    saved = await taps(user, "💾 Save")
    assert len(user.callback_answers) - before == 6  # the measured tap count, full way
    assert saved.message_id == first.message_id  # one message edited through every step
    assert "Saved" in saved.text and "6/10" in saved.text
    assert "Calves or feet · Minutes · Stress" in saved.text
    assert "today 13:00" in saved.text
    assert saved.labels[:2] == ["✏️ Edit", "🗑 Delete"]
    assert "🌀 Relief for Calves or feet" in saved.labels  # the relief offer, one tap away

    [stored] = episodes(harness, 3001)
    assert stored == {
        "started_at": "2026-11-25T12:00:00+00:00",
        "tz": "Europe/Berlin",
        "intensity": 6,
        "regions": ["calves_feet"],
        "duration": "minutes",
        "triggers": ["stress"],
        "tried": [],
        "note": None,
        "source": "checkin",
        "created_at": stored["created_at"],
        "updated_at": stored["created_at"],
    }
    state = harness.stored(3001).get("state", {}).get("1", {})
    assert "checkin" not in state and "awaiting" not in state  # nothing half-finished left


async def test_same_as_last_time_in_two_taps(harness: BotHarness) -> None:
    user = await ready(harness, 3002)
    await full_checkin(user)
    harness.clock.advance(timedelta(hours=3))
    await user.send("/checkin")
    await user.next_message()
    before = len(user.callback_answers)
    asked = await taps(user, "↺ Same as last time")
    assert "Back, Calves or feet · Minutes · Stress" in asked.text and "How strong" in asked.text
    saved = await taps(user, "3")
    assert len(user.callback_answers) - before == 2  # the measured tap count, shortcut
    assert "3/10" in saved.text and "today 16:00" in saved.text
    first, second = sorted(episodes(harness, 3002), key=lambda e: e["started_at"])
    assert second["source"] == "shortcut" and second["intensity"] == 3
    assert second["started_at"] == "2026-11-25T15:00:00+00:00"
    for key in ("regions", "duration", "triggers", "tz"):
        assert second[key] == first[key]


async def test_back_keeps_choices_and_cancel_stores_nothing(harness: BotHarness) -> None:
    user = await ready(harness, 3003)
    await user.send("/checkin")
    await user.next_message()
    duration = await taps(user, "4", "Face or eyelid", "Done ✓")
    assert "How long" in duration.text and "‹ Back" in duration.labels
    regions = await taps(user, "‹ Back")
    assert "✓ Face or eyelid" in regions.labels  # going back keeps what was picked
    intensity = await taps(user, "‹ Back")
    assert "✓4" in intensity.labels
    await taps(user, "7", "Done ✓", "Seconds")
    assert draft(harness, 3003)["intensity"] == 7  # type: ignore[index]
    cancelled = await taps(user, "✕ Cancel")
    assert "cancelled" in cancelled.text and not cancelled.labels
    assert episodes(harness, 3003) == [] and draft(harness, 3003) is None

    # /cancel in the middle does the same, and the old buttons then say "expired".
    await user.send("/checkin")
    step = await user.next_message()
    await taps(user, "2")
    await user.send("/cancel")
    retired = await user.next_message()
    assert retired.is_edit and not retired.labels  # the check-in loses its buttons
    assert "stopped" in (await user.next_message()).text
    answer = await user.press_data(step.data_for("5"), message_id=step.message_id)
    assert answer is not None and "expired" in answer
    assert episodes(harness, 3003) == [] and draft(harness, 3003) is None


async def test_regions_done_needs_a_region(harness: BotHarness) -> None:
    user = await ready(harness, 3004)
    await user.send("/checkin")
    await user.next_message()
    await taps(user, "5")
    answer = await user.press("Done ✓")
    assert answer is not None and "at least one place" in answer
    assert draft(harness, 3004)["step"] == "regions"  # type: ignore[index]


async def test_note_too_long_then_saved_and_free_text_nudge(harness: BotHarness) -> None:
    user = await ready(harness, 3005)
    await user.send("/checkin")
    await user.next_message()
    old = await taps(user, "5")
    await user.send("it's in my calf")  # free text while a button is expected
    retired = await user.next_message()
    assert retired.is_edit and retired.message_id == old.message_id and not retired.labels
    nudge = await user.next_message()
    assert "waiting for a tap" in nudge.text and "Where" in nudge.text
    # The check-in moved to the new message: the old one's buttons no longer count.
    answer = await user.press_data(old.data_for("Arms or hands"), message_id=old.message_id)
    assert answer is not None and "expired" in answer
    assert (await settled(harness, 3005))["regions"] == []
    await taps(user, "Arms or hands", "Done ✓", "Hours")
    asked = await taps(user, "✍️ Add a note")
    assert "up to 500" in asked.text
    await user.send("x" * 501)
    assert "501 characters" in (await user.next_message()).text
    assert episodes(harness, 3005) == []
    await user.send("After <b>gardening</b> & a long walk")
    saved = None
    while saved is None or "Saved" not in saved.text:
        saved = await user.next_message()
    assert "After <b>gardening</b> & a long walk" in saved.text  # shown as typed, not as HTML
    [stored] = episodes(harness, 3005)
    assert stored["note"] == "After <b>gardening</b> & a long walk"
    assert stored["triggers"] == [] and stored["duration"] == "hours"


async def test_yesterday_evening_is_stamped_in_the_past(harness: BotHarness) -> None:
    user = await ready(harness, 3006)
    await user.send("/checkin")
    await user.next_message()
    when = await taps(user, "🕐 Yesterday")
    assert "Evening 19:00" in when.labels
    back_at_start = await taps(user, "Evening 19:00")
    assert "yesterday, Evening (19:00)" in back_at_start.text
    saved = await taps(user, "2", "Back", "Done ✓", "Seconds", "💾 Save")
    assert "yesterday 19:00" in saved.text
    [stored] = episodes(harness, 3006)
    assert stored["started_at"] == "2026-11-24T18:00:00+00:00"  # 19:00 Berlin (UTC+1)


async def test_earlier_today_offers_only_what_has_begun(harness: BotHarness) -> None:
    user = await ready(harness, 3007)  # 13:00 in Berlin: the morning, not the afternoon yet
    await user.send("/checkin")
    await user.next_message()
    when = await taps(user, "🕐 Earlier today")
    assert [label for label in when.labels if ":" in label] == ["Morning 09:00"]
    # A forged-but-signed "afternoon" button (still in the future) stores nothing.
    codec = harness.app.bot_data["services"].codec  # type: ignore[union-attr]
    nonce = draft(harness, 3007)["nonce"]  # type: ignore[index]
    answer = await user.press_data(codec.encode(3007, "ck.wp", nonce, 0, "afternoon"))
    assert answer is not None and "expired" in answer
    assert draft(harness, 3007)["step"] == "when"  # type: ignore[index]


async def test_a_checkin_survives_a_restart(harness: BotHarness) -> None:
    user = await ready(harness, 3008)
    await user.send("/checkin")
    await user.next_message()
    await taps(user, "8", "Neck or shoulders", "Done ✓")
    await harness.restart()
    saved = await taps(user, "Up to an hour", "Cold", "💾 Save")
    assert "8/10" in saved.text and "Neck or shoulders · Up to an hour · Cold" in saved.text
    assert len(episodes(harness, 3008)) == 1


async def test_old_buttons_after_the_draft_is_gone_say_expired(harness: BotHarness) -> None:
    user = await ready(harness, 3009)
    await user.send("/checkin")
    old = await user.next_message()
    await user.send("/checkin")  # a new check-in replaces the old one
    await user.next_message()
    answer = await user.press_data(old.data_for("5"), message_id=old.message_id)
    assert answer is not None and "check-in expired, start again" in answer
    assert draft(harness, 3009)["intensity"] is None  # type: ignore[index]
    # A saved check-in's Save button pressed twice stores one episode.
    user.mark_seen()
    await taps(user, "1", "Back", "Done ✓", "Seconds")
    save_data = user.last_message.data_for("💾 Save")  # type: ignore[union-attr]
    await taps(user, "💾 Save")
    answer = await user.press_data(save_data)
    assert answer is not None and "expired" in answer
    assert len(episodes(harness, 3009)) == 1


async def test_edit_and_delete_from_history(harness: BotHarness) -> None:
    user = await ready(harness, 3010)
    await full_checkin(user)
    harness.clock.advance(timedelta(days=1))
    await user.send("/checkin")
    await user.next_message()
    await taps(user, "2", "Face or eyelid", "Done ✓", "Seconds", "Caffeine", "💾 Save")
    harness.clock.advance(timedelta(hours=1))

    await user.send("/history")
    history = await user.next_message()
    assert "<b>" not in history.text
    lines = history.text.splitlines()
    today = lines.index(next(line for line in lines if line.startswith("Today")))
    yesterday = lines.index(next(line for line in lines if line.startswith("Yesterday")))
    assert today < yesterday
    assert "1. 13:00 · 2/10 · Face or eyelid · Seconds · Caffeine" in history.text
    assert "2. 13:00 · 6/10 · Back, Calves or feet · Minutes · Stress" in history.text
    assert history.buttons == [["✏️ 1", "🗑 1", "✏️ 2", "🗑 2"]]

    editing = await taps(user, "✏️ 2")
    assert "Editing" in editing.text and "✓6" in editing.labels
    assert "↺ Same as last time" not in editing.labels
    regions = await taps(user, "9")
    assert "✓ Back" in regions.labels
    updated = await taps(user, "Done ✓", "Hours", "💾 Save")
    assert "Updated" in updated.text and "9/10" in updated.text
    stored = {e["intensity"]: e for e in episodes(harness, 3010)}
    assert set(stored) == {2, 9}
    assert stored[9]["duration"] == "hours" and stored[9]["started_at"].startswith("2026-11-25")
    assert stored[9]["updated_at"] > stored[9]["created_at"]

    await user.send("/history")
    await user.next_message()
    confirm = await taps(user, "🗑 1")
    assert "Delete this episode?" in confirm.text and "2/10" in confirm.text
    kept = await taps(user, "Keep it")
    assert "1. 13:00 · 2/10" in kept.text and len(episodes(harness, 3010)) == 2
    await taps(user, "🗑 1")
    after = await taps(user, "🗑 Yes, delete")
    assert "Deleted" in after.text and "1. 13:00 · 9/10" in after.text
    assert [e["intensity"] for e in episodes(harness, 3010)] == [9]


async def test_delete_from_the_saved_message(harness: BotHarness) -> None:
    user = await ready(harness, 3011)
    saved = await full_checkin(user)
    delete_data = saved.data_for("🗑 Delete")
    await taps(user, "🗑 Delete", "🗑 Yes, delete")
    assert episodes(harness, 3011) == []
    # The id is reused by the next insert; the old Delete button must not touch the new one.
    harness.clock.advance(timedelta(minutes=5))
    await full_checkin(user)
    answer = await user.press_data(delete_data, message_id=saved.message_id)
    assert answer is not None and "no longer exists" in answer
    assert len(episodes(harness, 3011)) == 1


async def test_forged_buttons_store_nothing(harness: BotHarness) -> None:
    mine = await ready(harness, 3012)
    other = await onboard(harness, 3013)
    await full_checkin(other)
    other_saved = other.last_message
    assert other_saved is not None
    [theirs] = [e for e in harness.stored(3013)["episodes"]]  # their doc id
    await mine.send("/checkin")
    step = await mine.next_message()
    nonce = (await settled(harness, 3012))["nonce"]
    before = harness.stored(3012)
    codec = harness.app.bot_data["services"].codec  # type: ignore[union-attr]
    forged = [
        "garbage",
        "",
        "1|ck.i|" + nonce + "|5|AAAAAAAA",  # bad signature
        "2|ck.i|" + nonce + "|5|" + codec.encode(3012, "ck.i", nonce, 5).split("|")[-1],
        codec.encode(3012, "ck.i", nonce, 11),  # out of range
        codec.encode(3012, "ck.i", nonce, "five"),  # not a number
        codec.encode(3012, "ck.i", "other1", 5),  # another draft's nonce
        codec.encode(3012, "ck.d", nonce, "minutes"),  # a later step's button
        codec.encode(3012, "ck.zz", nonce),  # unknown action
        codec.encode(3013, "ck.i", nonce, 5),  # signed for someone else
        other_saved.data_for("🗑 Delete"),  # another user's genuine button
        codec.encode(3012, "ck.dy", theirs, "abc", "s"),  # their episode id, my signature
        codec.encode(3012, "ck.e", theirs, "abc", "h"),
        "1|ck.i|" + nonce + "|5|" + "x" * 60,  # oversized
    ]
    for data in forged:
        answer = await mine.press_data(data, message_id=step.message_id)
        assert answer is not None and ("expired" in answer or "no longer" in answer), data
    assert harness.stored(3012) == before
    assert len(episodes(harness, 3013)) == 1


async def test_two_users_check_in_at_once(harness: BotHarness) -> None:
    harness.clock.set(NOON_BERLIN)
    ana, ben = await asyncio.gather(onboard(harness, 3014), onboard(harness, 3015))

    async def flow(user: FakeUser, labels: tuple[str, ...]) -> BotMessage:
        await user.send("/checkin")
        await user.next_message()
        return await taps(user, *labels)

    await asyncio.gather(
        flow(ana, ("3", "Face or eyelid", "Done ✓", "Seconds", "Cold", "💾 Save")),
        flow(ben, ("9", "Back", "Many places at once", "Done ✓", "Hours", "Stress", "💾 Save")),
    )
    [a] = episodes(harness, 3014)
    [b] = episodes(harness, 3015)
    assert (a["intensity"], a["regions"], a["triggers"]) == (3, ["face"], ["cold"])
    assert (b["intensity"], b["regions"], b["triggers"]) == (9, ["back", "many"], ["stress"])


async def test_relief_can_start_a_checkin_with_the_region_prefilled(harness: BotHarness) -> None:
    """What the relief feature will do: start_checkin with its region and the routines tried.
    Until relief is merged, its menu button stands in as the caller."""
    from bot.telegram.checkin import start_checkin

    services = harness.app.bot_data["services"]  # type: ignore[union-attr]

    async def relief_stand_in(update: Any, ctx: Any) -> None:
        await start_checkin(update, ctx, prefill_regions=["back", "tail"], tried=["breathing"])

    services.menu_actions["menu.twitching_now"] = relief_stand_in
    user = await ready(harness, 3016)
    await user.tap("🌀 Twitching now")
    await user.next_message()
    regions = await taps(user, "5")
    assert "✓ Back" in regions.labels  # prefilled; the unknown id was ignored
    saved = await taps(user, "Done ✓", "Seconds", "💾 Save")  # 4 taps from the relief offer
    # With relief present and exactly one region, the saved message offers its routine.
    assert "🌀 Relief for Back" in saved.labels
    assert saved.data_for("🌀 Relief for Back").startswith("1|rl.start|back|")
    [stored] = episodes(harness, 3016)
    assert stored["source"] == "relief" and stored["tried"] == ["breathing"]
    assert stored["regions"] == ["back"]


async def test_a_checkin_across_midnight_belongs_to_when_it_started(harness: BotHarness) -> None:
    harness.clock.set(datetime(2026, 11, 25, 22, 50, tzinfo=UTC))  # 23:50 in Berlin
    user = await onboard(harness, 3017)
    await user.send("/checkin")
    await user.next_message()
    await taps(user, "4", "Face or eyelid", "Done ✓")
    harness.clock.advance(timedelta(minutes=20))  # 00:10 on the 26th
    saved = await taps(user, "Seconds", "💾 Save")
    assert "yesterday 23:50" in saved.text
    [stored] = episodes(harness, 3017)
    assert stored["started_at"] == "2026-11-25T22:50:00+00:00"
    assert stored["created_at"] == "2026-11-25T23:10:00+00:00"
    await user.send("/history")
    assert "Yesterday, Wed 25 Nov" in (await user.next_message()).text


async def test_history_when_empty(harness: BotHarness) -> None:
    user = await ready(harness, 3018)
    await user.send("/history")
    reply = await user.next_message()
    assert "No episodes in the last 14 days" in reply.text and not reply.labels


async def test_a_long_history_fits_one_message(harness: BotHarness) -> None:
    user = await ready(harness, 3019)
    store = harness.app.bot_data["services"].store  # type: ignore[union-attr]
    every = {
        "regions": ["face", "neck_shoulders", "arms_hands", "chest_belly", "back", "many"],
        "triggers": ["poor_sleep", "stress", "overdid_it", "caffeine", "cold", "low_fluids"],
    }
    for hours in range(60):  # a bad fortnight, logged with every box ticked
        at = (NOON_BERLIN - timedelta(hours=5 * hours)).isoformat()
        doc = {"started_at": at, "tz": "Europe/Berlin", "intensity": 7, "duration": "all_day"}
        doc |= {"tried": [], "note": None, "source": "checkin", "created_at": at}
        await store.insert(3019, "episodes", doc | every | {"updated_at": at})
    await user.send("/history")
    shown = await user.next_message()
    assert len(shown.raw_text) < 4096
    assert "1. 13:00 · 7/10" in shown.text and "earlier ones not shown" in shown.text
    assert len(shown.labels) == 2 * min(20, shown.text.count("7/10"))


PRESENT = ("How strong is", "is it now", "that twitches")


def _asks_in_the_past(view: BotMessage) -> None:
    assert not any(phrase in view.text for phrase in PRESENT), view.text


async def test_a_past_episode_is_asked_in_the_past_tense_at_every_step(
    harness: BotHarness,
) -> None:
    user = await ready(harness, 3020)
    await user.send("/checkin")
    now = await user.next_message()
    assert "How strong is the twitching?" in now.text  # an episode happening now
    await taps(user, "🕐 Yesterday")
    intensity = await taps(user, "Evening 19:00")
    assert "How strong was it?" in intensity.text
    regions = await taps(user, "5")
    assert "Where was it?" in regions.text and "twitched" in regions.text
    duration = await taps(user, "Calves or feet", "Done ✓")
    assert "How long did it last?" in duration.text
    triggers = await taps(user, "Minutes")
    assert "may have set it off" in triggers.text
    note = await taps(user, "✍️ Add a note")
    for view in (intensity, regions, duration, triggers, note):
        _asks_in_the_past(view)
    back = await taps(user, "‹ Back", "‹ Back", "‹ Back", "‹ Back")  # back to the intensity
    assert "How strong was it?" in back.text
    saved = await taps(user, "5", "Done ✓", "Minutes", "💾 Save")
    assert "yesterday 19:00" in saved.text


async def test_same_as_last_time_for_earlier_today_is_asked_in_the_past(
    harness: BotHarness,
) -> None:
    user = await ready(harness, 3021)  # 13:00 in Berlin
    await full_checkin(user)
    await user.send("/checkin")
    await user.next_message()
    await taps(user, "🕐 Earlier today")
    at_nine = await taps(user, "Morning 09:00")
    same = await taps(user, "↺ Same as last time")
    assert "Same as last time" in same.text and "How strong was it?" in same.text
    for view in (at_nine, same):
        _asks_in_the_past(view)
    saved = await taps(user, "4")
    assert "today 09:00" in saved.text and "4/10" in saved.text


async def test_editing_an_episode_asks_in_the_past_tense(harness: BotHarness) -> None:
    user = await ready(harness, 3022)
    saved = await full_checkin(user)
    editing = await taps(user, "✏️ Edit")
    assert "Editing" in editing.text and "How strong was it?" in editing.text
    regions = await taps(user, "7")
    assert "Where was it?" in regions.text
    for view in (editing, regions):
        _asks_in_the_past(view)
    assert saved.message_id == regions.message_id


async def test_a_medicine_change_leads_to_the_prescriber_note(harness: BotHarness) -> None:
    user = await ready(harness, 3023)
    await user.tap(MENU)
    await user.next_message()
    saved = await taps(
        user, "3", "Arms or hands", "Done ✓", "Minutes", "New or changed medicine", "💾 Save"
    )
    assert "talk to your prescriber" in saved.text and "don't stop a medicine" in saved.text
    plain = await full_checkin(user)  # no medicine trigger: no note
    assert "prescriber" not in plain.text
