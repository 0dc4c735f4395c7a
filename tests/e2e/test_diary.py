"""The daily diary end to end: the real bot against the loopback Bot API, a person tapping, and
what was stored read back from the data files."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.sandbox import FakeUser
from bot.sandbox.client import BotMessage
from bot.telegram.context import services_of
from tests.e2e.harness import BotHarness, onboard

# Wednesday 10 June 2026, 19:00 in Berlin (UTC+2).
EVENING = datetime(2026, 6, 10, 17, 0, tzinfo=UTC)


def days_of(harness: BotHarness, user_id: int) -> list[dict[str, Any]]:
    return list(harness.stored(user_id).get("diary_days", {}).values())


def factors_of(harness: BotHarness, user_id: int) -> list[dict[str, Any]]:
    stored = harness.stored(user_id).get("diary_factors", {})
    return [{"id": int(key), **doc} for key, doc in stored.items()]


async def next_with(user: FakeUser, text: str) -> BotMessage:
    """The next bot message containing ``text`` (earlier refreshes of other messages skipped)."""
    while True:
        message = await user.next_message()
        if text in message.text:
            return message


async def ready(harness: BotHarness, user_id: int, when: datetime = EVENING) -> FakeUser:
    harness.clock.set(when)
    user = await onboard(harness, user_id)
    await user.press("Not now")  # the red-flag offer
    await user.next_message()
    return user


async def test_one_tap_stores_the_day_then_factors_and_done(harness: BotHarness) -> None:
    user = await ready(harness, 8101)
    await user.send("/diary")
    panel = await user.next_message()
    assert "Your last 7 days" in panel.text
    assert "How were the twitches today, overall?" in panel.text
    assert panel.labels[:7] == [
        "Thu 04 ·", "Fri 05 ·", "Sat 06 ·", "Sun 07 ·", "Mon 08 ·", "Tue 09 ·", "Wed 10 ·",
    ]  # fmt: skip
    await user.press("A little")
    saved = await user.next_message()
    assert saved.is_edit and "✓ Saved for Wed 10 Jun: A little." in saved.text
    [day] = days_of(harness, 8101)  # the one tap alone saved the day
    assert day["date"] == "2026-06-10" and day["rating"] == 1 and day["factors"] == []
    assert day["answered_at"] == day["updated_at"]
    assert day["offered"] == [
        "slept_badly", "stressful_day", "drank_little", "overdid_it", "caffeine_late", "cold",
    ]  # fmt: skip
    assert "✓ A little" in saved.labels and "Stressful day" in saved.labels
    assert saved.labels[-2:] == ["➕ My factors", "Done ✓"]

    await user.press("Stressful day")
    toggled = await user.next_message()
    assert "✓ Stressful day" in toggled.labels
    await user.press("Slept badly last night")
    await user.next_message()
    # A double tap on an old copy of the button changes nothing (it sets, never flips).
    await user.press_data(saved.data_for("Stressful day"), saved.message_id)
    assert days_of(harness, 8101)[0]["factors"] == ["slept_badly", "stressful_day"]
    await user.press("Done ✓")
    done = await user.next_message()
    assert "Wed 10 Jun: A little · Slept badly last night, Stressful day" in done.text
    assert "Days recorded this month: 1." in done.text
    # Change the rating later: the day keeps its first answer time.
    harness.clock.set(EVENING + timedelta(hours=1))
    await user.press("✏️ Change")
    await user.next_message()
    await user.press("Moderate")
    await user.next_message()
    [day] = days_of(harness, 8101)
    assert day["rating"] == 2 and day["answered_at"] < day["updated_at"]


async def test_episodes_logged_today_are_mentioned(harness: BotHarness) -> None:
    user = await ready(harness, 8102)
    assert harness.app is not None
    store = services_of(harness.app).store
    for hours in (2, 5):
        when = (EVENING - timedelta(hours=hours)).isoformat()
        await store.insert(
            8102,
            "episodes",
            {"started_at": when, "tz": "Europe/Berlin", "intensity": 5, "regions": ["back"]},
        )
    await user.send("/diary")
    panel = await user.next_message()
    assert "You logged 2 episodes today." in panel.text
    assert "How were the twitches today, overall?" in panel.text


async def test_a_past_day_answered_from_the_row(harness: BotHarness) -> None:
    user = await ready(harness, 8103)
    await user.send("/diary")
    await user.next_message()
    await user.press("Mon 08 ·")
    day_panel = await user.next_message()
    assert "How were the twitches on Mon 08 Jun, overall?" in day_panel.text
    await user.press("None")
    await user.next_message()
    await user.press("Done ✓")
    await user.next_message()
    await user.press("📅 Other days")
    row = await user.next_message()
    assert "Mon 08 ✓" in row.labels and "Wed 10 ·" in row.labels
    [day] = days_of(harness, 8103)
    assert day["date"] == "2026-06-08" and day["rating"] == 0
    assert day["answered_at"] == EVENING.isoformat() or day["answered_at"].startswith("2026-06-10")


async def test_answering_at_half_past_one_records_yesterday(harness: BotHarness) -> None:
    user = await ready(harness, 8104)
    harness.clock.set(datetime(2026, 6, 10, 23, 30, tzinfo=UTC))  # Thu 11 Jun, 01:30 in Berlin
    await user.send("/diary")
    panel = await user.next_message()
    assert "It's after midnight, so this is for yesterday, Wed 10 Jun." in panel.text
    assert panel.labels[6] == "Wed 10 ·"  # the row ends with the day being closed
    await user.press("A lot")
    saved = await user.next_message()
    assert "Saved for Wed 10 Jun" in saved.text
    [day] = days_of(harness, 8104)
    assert day["date"] == "2026-06-10" and day["rating"] == 3


async def test_own_factor_added_shown_renamed_archived(harness: BotHarness) -> None:
    user = await ready(harness, 8105)
    await user.send("/factors")
    panel = await user.next_message()
    assert "Your day factors" in panel.text and "➕ Add a factor" in panel.labels
    await user.press("➕ Add a factor")
    await user.next_message()
    await user.send("x" * 31)
    assert "31 characters" in (await user.next_message()).text
    await user.send("  cold ")
    assert "You already have “cold”" in (await user.next_message()).text
    await user.send("  Mag\x07nesium  ")
    added = await user.next_message()
    assert "Added “Mag nesium”" in added.text
    await user.press("Mag nesium")
    await user.next_message()
    await user.press("✏️ Rename")
    await user.next_message()
    await user.send("Magnesium")
    assert "Renamed to “Magnesium”" in (await user.next_message()).text
    [factor] = factors_of(harness, 8105)
    assert factor["name"] == "Magnesium" and factor["archived"] is False

    # The next diary shows it first, and it can be ticked.
    await user.send("/diary")
    await user.next_message()
    await user.press("Moderate")
    diary_message = await user.next_message()
    assert diary_message.labels[4] == "Magnesium"
    await user.press("Magnesium")
    assert "✓ Magnesium" in (await user.next_message()).labels
    assert days_of(harness, 8105)[0]["factors"] == [f"own_{factor['id']}"]

    # Archive: gone from the diary, the past answer kept; its old button now changes nothing.
    await user.send("/factors")
    await user.next_message()
    await user.press("Magnesium")
    await user.next_message()
    answer = await user.press("🗄 Archive")
    assert answer == "✓ “Magnesium” is archived. Your past answers are kept."
    assert "Magnesium" not in (await user.next_message()).labels  # back to the list
    assert factors_of(harness, 8105)[0]["archived"] is True
    before = harness.stored(8105)
    await user.press_data(diary_message.data_for("Magnesium"), diary_message.message_id)
    assert harness.stored(8105) == before  # already ticked: setting it again changes nothing
    await user.send("/diary")
    row = await next_with(user, "Your last 7 days")
    await user.press("Wed 10 ✓", message_id=row.message_id)
    reopened = await user.next_message()
    assert "✓ Magnesium" in reopened.labels  # ticked before archiving: shown so it can be unticked
    await user.send("/diary")
    await user.next_message()
    await user.press("Tue 09 ·")
    await user.next_message()
    await user.press("None")
    assert "Magnesium" not in " ".join((await user.next_message()).labels)
    # An archived factor can't be ticked on another day, even with a validly signed button.
    before = harness.stored(8105)
    codec = services_of(harness.app).codec  # type: ignore[arg-type]
    forged = codec.encode(8105, "dy.f", "20260609", f"own_{factor['id']}", 1)
    assert await user.press_data(forged) == "That button has expired. Send /start for the menu."
    assert harness.stored(8105) == before


async def test_at_most_eight_own_factors_and_crisis_words_answered(harness: BotHarness) -> None:
    user = await ready(harness, 8106)
    for index in range(8):
        await user.send("/factors")
        await user.next_message()
        await user.press("➕ Add a factor")
        await user.next_message()
        await user.send(f"Factor {index}")
        await user.next_message()
    panel = user.last_message
    assert panel is not None and "➕ Add a factor" not in panel.labels
    assert len(factors_of(harness, 8106)) == 8
    # The diary shows at most 8 toggles: the person's own factors first.
    await user.send("/diary")
    await user.next_message()
    await user.press("None")
    shown = (await user.next_message()).labels
    assert [label for label in shown if label.startswith("Factor")] == [
        f"Factor {i}" for i in range(8)
    ]
    assert "Cold" not in shown
    # Free text while naming a factor still goes through the crisis check first.
    await user.send("/factors")
    await user.next_message()
    await user.press("Factor 0")
    await user.next_message()
    await user.press("✏️ Rename")
    await user.next_message()
    await user.send("I want to die")
    reply = await user.next_message()
    assert "emergency" in reply.text.lower()


async def test_export_has_diary_days_and_factors_and_forget_removes_them(
    harness: BotHarness,
) -> None:
    user = await ready(harness, 8107)
    await user.send("/factors")
    await user.next_message()
    await user.press("➕ Add a factor")
    await user.next_message()
    await user.send("=Yoga")
    await user.next_message()
    await user.send("/diary")
    await user.next_message()
    await user.press("A little")
    await user.next_message()
    await user.press("=Yoga")
    await user.next_message()
    await user.send("/export")
    await user.next_message()
    documents = [await user.next_message() for _ in range(3)]
    by_name = {d.filename: d for d in documents}
    exported = json.loads(by_name["twitch-coach-export-20260610.json"].file_bytes or b"")
    assert exported["tables"]["diary_days"][0]["date"] == "2026-06-10"
    assert exported["tables"]["diary_factors"][0]["name"] == "=Yoga"
    days_csv = by_name["twitch-coach-days-20260610.csv"]
    rows = list(csv.DictReader(io.StringIO((days_csv.file_bytes or b"").decode("utf-8"))))
    assert rows == [
        {
            "date": "2026-06-10",
            "rating": "1",
            "rating_label": "A little",
            "factors": "'=Yoga",  # kept from running as a spreadsheet formula
            "factor_ids": rows[0]["factor_ids"],
            "episodes": "0",
            "answered_at": rows[0]["answered_at"],
            "updated_at": rows[0]["updated_at"],
            "tz": "Europe/Berlin",
        }
    ]
    assert "1 diary days" in days_csv.text

    await user.send("/forget")
    await user.next_message()
    await user.press("Yes, delete everything")
    assert "deleted" in (await user.next_message()).text
    assert not harness.has_data(8107) and harness.leftovers(8107) == []


async def test_stale_and_forged_diary_buttons_change_nothing(harness: BotHarness) -> None:
    user = await ready(harness, 8108)
    other = await ready(harness, 8109)
    await user.send("/diary")
    mine = await user.next_message()
    await other.send("/diary")
    theirs = await other.next_message()
    before = harness.stored(8108)
    expired = "That button has expired. Send /start for the menu."
    # Another person's signed button, replayed: refused.
    assert await user.press_data(theirs.data_for("A lot"), mine.message_id) == expired
    # Tampered data (a rating of 9 with the signature of a 1): refused.
    forged = mine.data_for("A little").replace("|1|", "|9|")
    assert await user.press_data(forged, mine.message_id) == expired
    # A factor before the day has a rating, and a factor id that doesn't exist: refused.
    day_token = mine.data_for("None").split("|")[2]
    codec = services_of(harness.app).codec  # type: ignore[arg-type]
    for data in (
        codec.encode(8108, "dy.f", day_token, "cold", 1),
        codec.encode(8108, "dy.f", day_token, "own_77", 1),
        codec.encode(8108, "dy.r", "20269999", 1),
        codec.encode(8108, "dy.r", day_token),
    ):
        assert await user.press_data(data, mine.message_id) == expired
    assert harness.stored(8108) == before
    # A week later the old message's buttons are too old to change anything.
    harness.clock.set(EVENING + timedelta(days=8))
    answer = await user.press_data(mine.data_for("A lot"), mine.message_id)
    assert answer is not None and "too far back" in answer
    assert harness.stored(8108) == before
    assert "diary_days" not in harness.stored(8108)


def day_record(day: str, rating: int, factors: list[str] | None = None) -> dict[str, Any]:
    offered = ["slept_badly", "stressful_day", "drank_little", "overdid_it", "caffeine_late"]
    return {
        "date": day,
        "rating": rating,
        "factors": factors or [],
        "offered": [*offered, "cold"],
        "answered_at": EVENING.isoformat(),
        "updated_at": EVENING.isoformat(),
        "tz": "Europe/Berlin",
    }


async def seed_week(harness: BotHarness, user_id: int) -> None:
    """Thu calm, Fri a little (cold), Sat nothing, Sun calm, Mon nothing, Tue moderate (cold),
    Wed no diary answer but an episode of 9/10."""
    assert harness.app is not None
    store = services_of(harness.app).store
    for record in (
        day_record("2026-06-04", 0),
        day_record("2026-06-05", 1, ["cold"]),
        day_record("2026-06-07", 0),
        day_record("2026-06-09", 2, ["cold"]),
    ):
        await store.insert(user_id, "diary_days", record)
    when = (EVENING - timedelta(hours=4)).isoformat()
    await store.insert(
        user_id,
        "episodes",
        {"started_at": when, "tz": "Europe/Berlin", "intensity": 9, "regions": ["back"]},
    )


async def test_week_counts_recorded_days_and_the_calmest_is_a_recorded_one(
    harness: BotHarness,
) -> None:
    user = await ready(harness, 8110)
    await seed_week(harness, 8110)
    await user.send("/week")
    photo = await user.next_message()
    assert photo.kind == "photo" and (photo.file_bytes or b"").startswith(b"\x89PNG")
    text = (await user.next_message()).text
    assert "5 of 7 days recorded: 2 calm, 3 with twitching." in text
    # The day with one 9/10 episode is the hardest, never "the calmest" of a week of unknowns.
    assert "Calmest day: Sun 07 Jun · Hardest day: Wed 10 Jun" in text


async def test_report_pdf_shows_day_kinds_legend_and_factor_table(harness: BotHarness) -> None:
    from pypdf import PdfReader

    user = await ready(harness, 8111)
    await seed_week(harness, 8111)
    await user.send("/report")
    await user.next_message()
    await user.press("Last 30 days")
    await user.next_message()
    document = await user.next_message()
    assert document.kind == "document" and document.file_bytes is not None
    reader = PdfReader(io.BytesIO(document.file_bytes))
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    assert "Days recorded (evening diary or an episode): 5 of 30; not recorded: 25" in text
    assert "Recorded calm days (diary: no twitching, no episode): 2; days with twitching: 3" in text
    assert (
        "Day strip under the chart: white = recorded calm, dark grey = twitching, "
        "hatched = not recorded (unknown, not calm)."
    ) in text
    assert "Day factors from the evening diary" in text
    assert "Cold 2 1 of 2 0 of 2" in text
    assert len(reader.pages[0].images) == 1  # the chart with its day strip


async def test_week_names_a_diary_pattern_with_counts_and_doubt(harness: BotHarness) -> None:
    user = await ready(harness, 8112)
    assert harness.app is not None
    store = services_of(harness.app).store
    for offset in range(28):  # after poor sleep the day is bad, otherwise calm
        day = (EVENING - timedelta(days=offset)).date().isoformat()
        poor = offset % 2 == 0
        await store.insert(
            8112, "diary_days", day_record(day, 3 if poor else 0, ["slept_badly"] if poor else [])
        )
    await user.send("/week")
    await user.next_message()
    text = (await user.next_message()).text
    assert (
        "On the 14 days with “Slept badly last night”, twitching was moderate or worse on 14; "
        "on the other 14 days, on 0."
    ) in text
    assert "This could be chance; keep recording to see if it holds." in text
    assert not re.search(r"\bcaus(e|es|ed|ing)\b", text, re.IGNORECASE)


async def test_onboarding_another_time_and_settings_panel(harness: BotHarness) -> None:
    harness.clock.set(EVENING)
    user = await onboard(harness, 8113, diary=None)
    await user.press("⏰ Another time")
    assert "When would you like the evening check?" in (await user.next_message()).text
    await user.press("⌨️ Type a time")
    await user.next_message()
    await user.send("25:00")
    assert "isn't a time I understand" in (await user.next_message()).text
    await user.send("21:30")
    assert "Evening check at 21:30" in (await user.next_message()).text
    assert (await user.next_message()).reply_keyboard  # onboarding goes on to the menu
    profile = harness.stored_profile(8113)
    assert profile["diary_enabled"] is True and profile["diary_time"] == "21:30"
    assert profile["onboarded"] is True

    await user.send("/settings")
    settings = await next_with(user, "Your settings")
    assert "Evening check: 21:30" in settings.text
    await user.press("🌙 Evening check")
    panel = await user.next_message()
    assert "Every evening at 21:30 (Berlin)." in panel.text
    answer = await user.press("⏸ Pause a week")
    assert answer is not None and answer.startswith("✓ Paused for a week, until Wed 17 Jun")
    assert "Paused until" in (await user.next_message()).text
    assert harness.stored_profile(8113)["diary_paused_until"].startswith("2026-06-17")
    await user.press("▶️ Resume")
    assert "Every evening at 21:30" in (await user.next_message()).text
    await user.press("⏰ Change time")
    await user.next_message()
    assert await user.press("19:00") == "✓ Evening check at 19:00."
    await user.next_message()
    turned_off = await user.press("🔕 Turn off")
    assert turned_off == "✓ The evening check is off. /diary still works any time."
    off = await user.next_message()
    assert "Off." in off.text and "🔔 Turn on at 19:00" in off.labels
    assert harness.stored_profile(8113)["diary_enabled"] is False
    await user.send("/diary")
    assert "🔔 Evening check: off" in (await next_with(user, "Your last 7 days")).labels
