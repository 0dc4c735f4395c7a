"""Insight, safety and data ownership, driven as a user through the loopback Bot API.

Episodes and relief runs belong to the check-in and relief features (other branches), so they
are seeded through the store in exactly the shared contract shape.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pypdf import PdfReader

from bot.sandbox import FakeUser
from bot.sandbox.client import BotMessage
from bot.telegram.common import set_awaiting
from bot.telegram.context import services_of
from bot.telegram.jobs import user_job_name
from tests.e2e.harness import BotHarness, onboard

WEDNESDAY = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 10:00 in Berlin
SUNDAY_EVENING = datetime(2026, 11, 29, 17, 10, tzinfo=UTC)  # 18:10 in Berlin


def episode(when: datetime, intensity: int, **extra: Any) -> dict[str, Any]:
    doc = {
        "started_at": when.isoformat(),
        "tz": "Europe/Berlin",
        "intensity": intensity,
        "regions": ["calves_feet"],
        "duration": "minutes",
        "triggers": [],
        "tried": [],
        "note": None,
        "source": "checkin",
        "created_at": when.isoformat(),
        "updated_at": when.isoformat(),
    }
    doc.update(extra)
    return doc


def relief_run(when: datetime, routine: str, outcome: str | None) -> dict[str, Any]:
    return {
        "routine_id": routine,
        "region": "calves_feet",
        "started_at": when.isoformat(),
        "ended_at": (when + timedelta(minutes=3)).isoformat(),
        "status": "finished",
        "followup_due_at": (when + timedelta(minutes=30)).isoformat(),
        "followup_sent_at": (when + timedelta(minutes=30)).isoformat(),
        "outcome": outcome,
        "answered_at": (when + timedelta(minutes=31)).isoformat() if outcome else None,
    }


async def seed(harness: BotHarness, user_id: int, table: str, docs: list[dict[str, Any]]) -> None:
    assert harness.app is not None
    store = services_of(harness.app).store
    for doc in docs:
        await store.insert(user_id, table, doc)


def week_of_episodes(now: datetime) -> list[dict[str, Any]]:
    """Four episodes this week (two with poor sleep), two the week before."""
    return [
        episode(now - timedelta(hours=1), 6, triggers=["poor_sleep"], note="ouch, “calf” again"),
        episode(now - timedelta(days=1), 4, triggers=["poor_sleep", "stress"]),
        episode(now - timedelta(days=1, hours=3), 2),
        episode(now - timedelta(days=3), 5, regions=["face"]),
        episode(now - timedelta(days=8), 7),
        episode(now - timedelta(days=9), 7),
    ]


async def ready_user(harness: BotHarness, user_id: int, now: datetime = WEDNESDAY) -> FakeUser:
    harness.clock.set(now)
    return await onboard(harness, user_id)


async def test_week_with_data_sends_a_png_chart_and_a_summary(harness: BotHarness) -> None:
    user = await ready_user(harness, 7101)
    await seed(harness, 7101, "episodes", week_of_episodes(WEDNESDAY))
    await seed(
        harness, 7101, "relief_runs", [relief_run(WEDNESDAY, "warm_compress", "much_better")]
    )
    await user.send("/week")
    photo = await user.next_message()
    assert photo.kind == "photo" and photo.file_bytes is not None
    assert photo.file_bytes.startswith(b"\x89PNG\r\n\x1a\n")
    text = await user.next_message()
    assert "Episodes: 4 (the week before: 2)" in text.text
    assert "Average intensity: 4.2/10 (the week before: 7.0)" in text.text
    assert "Poor sleep (2)" in text.text and "Warm compress" in text.text
    assert "Hardest day" in text.text
    assert "causes" not in text.text
    assert "Sunday" in " ".join(text.labels)


async def test_my_week_button_with_no_data_is_kind_and_draws_nothing(harness: BotHarness) -> None:
    user = await ready_user(harness, 7102)
    await user.tap("📊 My week")
    reply = await user.next_message()
    assert reply.kind == "text" and "isn't enough" in reply.text
    assert user.photos == []


async def test_report_pdf_has_the_counts_and_the_patient_reported_note(
    harness: BotHarness,
) -> None:
    user = await ready_user(harness, 7103)
    episodes = [*week_of_episodes(WEDNESDAY), episode(WEDNESDAY - timedelta(days=50), 9)]
    await seed(harness, 7103, "episodes", episodes)
    await seed(harness, 7103, "relief_runs", [relief_run(WEDNESDAY, "gentle_stretch", "same")])
    await user.send("/report")
    ask = await user.next_message()
    assert "Which period" in ask.text
    await user.press("Last 30 days")
    assert "Making your report" in (await user.next_message()).text
    document = await user.next_message()
    assert document.kind == "document" and document.mime_type == "application/pdf"
    assert document.filename == "twitching-report-2026-11-25.pdf"
    assert document.file_bytes is not None
    reader = PdfReader(io.BytesIO(document.file_bytes))
    assert 1 <= len(reader.pages) <= 2
    text = " ".join(page.extract_text() for page in reader.pages)
    assert "Episodes logged: 6" in text
    assert "Patient-reported" in text
    assert "Calves or feet" in text and "Poor sleep" in text and "Gentle stretch" in text
    assert "not answered the red-flag check" in text

    await user.send("/report")
    await user.next_message()
    await user.press("Last 90 days")
    await user.next_message()
    document = await user.next_message()
    assert document.file_bytes is not None
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(document.file_bytes)).pages)
    assert "Episodes logged: 7" in text


async def test_report_with_nothing_logged_says_so(harness: BotHarness) -> None:
    user = await ready_user(harness, 7104)
    await user.send("/report")
    await user.next_message()
    await user.press("Last 30 days")
    reply = await user.next_message()
    assert "nothing to put in a report" in reply.text
    assert user.documents == []
    # A validly signed button with a period we never offer, or someone else's button: refused.
    assert harness.app is not None
    codec = services_of(harness.app).codec
    for data in (codec.encode(7104, "rp.d", 45), codec.encode(9999, "rp.d", 30)):
        answer = await user.press_data(data)
        assert answer is not None and "expired" in answer
    await user.expect_silence(0.2)


async def _start_check(user: FakeUser) -> BotMessage:
    await user.send("/safetycheck")
    await user.next_message()
    await user.press("Start the check")
    return await user.next_message()


async def _answer(user: FakeUser, answers: str) -> BotMessage:
    """Press Yes (y) or No (n) for each letter; return what the bot showed last."""
    shown = None
    for letter in answers:
        await user.press("Yes" if letter == "y" else "No")
        shown = await user.next_message()
    assert shown is not None
    return shown


async def test_red_flag_yes_gets_the_doctor_message_and_shows_on_the_report(
    harness: BotHarness,
) -> None:
    harness.clock.set(WEDNESDAY)
    user = harness.user(7105)
    await user.send("/start")
    for _ in range(2):
        await user.next_message()
    await user.press("I understand")
    for _ in range(2):
        await user.next_message()
    await user.press("Berlin")
    for _ in range(2):
        await user.next_message()
    await user.press("08:00")
    await user.next_message()
    await user.next_message()  # the evening-check offer (diary)
    await user.press("No thanks")
    await user.next_message()
    assert (await user.next_message()).reply_keyboard  # the menu comes first
    offer = await user.next_message()
    assert "safety check" in offer.text and offer.labels == ["Start the check", "Not now"]
    await user.press("Start the check")
    first = await user.next_message()
    assert "Question 1 of 7" in first.text and "breathing" in first.text  # emergencies first
    third = await _answer(user, "nn")
    assert "Question 3 of 7" in third.text and "weak or stiff" in third.text
    await user.press("Yes")
    fourth = await user.next_message()
    assert "Question 4 of 7" in fourth.text and "grip" in fourth.text
    # Pressing "No" on question 3 again (a stale double tap) changes nothing.
    answer = await user.press_data(third.callback_data["No"], third.message_id)
    assert answer is not None and "expired" in answer
    reply = await _answer(user, "nnnn")
    assert "worth checking with a doctor" in reply.text
    assert "today" not in reply.text and "prescriber" not in reply.text
    [record] = harness.stored(7105)["red_flags"].values()
    assert record["any_yes"] is True and record["outcome"] == "see_doctor"
    assert record["answers"] == {
        "breathing": False,
        "speech_swallow": False,
        "weak_or_stiff": True,
        "grip_stairs": False,
        "thinner_weight": False,
        "crying_laughing": False,
        "medicine": False,
    }
    assert record["onsets"] == {}

    await seed(harness, 7105, "episodes", week_of_episodes(WEDNESDAY))
    text = await _report_text(user)
    assert "A part of the body feels weak or stiff YES" in text
    assert "Crying or laughing that is hard to stop no" in text


async def _report_text(user: FakeUser) -> str:
    await user.send("/report")
    await user.next_message()
    await user.press("Last 30 days")
    await user.next_message()
    document = await user.next_message()
    assert document.file_bytes is not None
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(document.file_bytes)).pages)


async def test_trouble_breathing_gives_the_emergency_number_at_once(harness: BotHarness) -> None:
    user = await ready_user(harness, 7106)
    await _start_check(user)
    reply = await _answer(user, "y")
    assert reply.text.startswith("🚑 Call your local emergency number now")
    assert "999" in reply.text and "112" in reply.text and "911" in reply.text
    await user.expect_silence(0.3)  # no further question
    [record] = harness.stored(7106)["red_flags"].values()
    assert record["answers"] == {"breathing": True} and record["outcome"] == "emergency"
    await user.tap("📊 My week")  # the bot carries on as before
    assert "isn't enough" in (await user.next_message()).text


async def test_speech_trouble_asks_how_it_came_on(harness: BotHarness) -> None:
    user = await ready_user(harness, 7109)
    await _start_check(user)
    onset = await _answer(user, "ny")
    assert "suddenly" in onset.text and onset.labels == [
        "Suddenly",
        "Over days or weeks",
        "Not sure",
    ]
    codec = services_of(harness.app).codec
    token, index, _ = codec.decode(7109, onset.callback_data["Not sure"]).args
    for data in (
        codec.encode(7109, "rf.a", token, index, "y"),
        codec.encode(7109, "rf.o", token, 3, "slow"),
    ):
        answer = await user.press_data(data)  # a yes/no now, or another question: stale
        assert answer is not None and "expired" in answer
    await user.press("Not sure")  # the safer reading: as if sudden
    reply = await user.next_message()
    assert reply.text.startswith("🚑 Call your local emergency number now")
    [record] = harness.stored(7109)["red_flags"].values()
    assert record["onsets"] == {"speech_swallow": "unsure"} and record["outcome"] == "emergency"

    await _start_check(user)
    await _answer(user, "ny")
    await user.press("Over days or weeks")
    assert "Question 3 of 7" in (await user.next_message()).text
    reply = await _answer(user, "nnnny")  # and a medicine may be behind the twitching
    assert "needs a doctor today" in reply.text and "local emergency number" in reply.text
    assert "prescriber" in reply.text and "don't stop a medicine" in reply.text
    latest = max(harness.stored(7109)["red_flags"].values(), key=lambda r: r["asked_at"])
    assert latest["outcome"] == "urgent" and latest["onsets"] == {"speech_swallow": "slow"}

    await seed(harness, 7109, "episodes", week_of_episodes(WEDNESDAY))
    text = await _report_text(user)
    assert "Trouble speaking or swallowing, or a face that droops YES" in text
    assert "came on Over days or weeks" in text


async def test_answers_to_the_old_questions_stay_readable_on_the_report(
    harness: BotHarness,
) -> None:
    user = await ready_user(harness, 7110)
    old = {
        "asked_at": (WEDNESDAY - timedelta(days=3)).isoformat(),
        "answers": {
            "weakness": True,
            "thinner": False,
            "swallow_speak_breathe": False,
            "tripping": False,
        },
        "any_yes": True,
    }
    await seed(harness, 7110, "red_flags", [old])
    await seed(harness, 7110, "episodes", week_of_episodes(WEDNESDAY))
    text = await _report_text(user)
    assert "Weakness in the twitching area YES" in text
    assert "Trouble swallowing, speaking or breathing no" in text
    assert "Crying or laughing" not in text  # not asked back then: not shown as a "no"


async def test_red_flag_check_can_be_skipped(harness: BotHarness) -> None:
    user = await ready_user(harness, 7107)
    await user.press("Not now")
    assert "skipped" in (await user.next_message()).text
    assert "red_flags" not in harness.stored(7107)
    assert harness.stored_profile(7107)["redflag_offered_at"].startswith("2026-11-25")


async def test_crisis_words_get_resources_even_while_typing_a_note(harness: BotHarness) -> None:
    user = await ready_user(harness, 7108)
    await user.send("honestly I want to die")
    reply = await user.next_message()
    assert "findahelpline.com" in reply.text and "local emergency number" in reply.text
    assert reply.text.index("local emergency number") < reply.text.index("findahelpline.com")
    await user.expect_silence(0.3)  # no "I didn't catch that" after it
    for text in ("I can't go on", "kms", "I hurt myself lifting the shopping"):
        await user.send(text)
        reply = await user.next_message()
        assert "local emergency number" in reply.text, text
        assert "If I misread you, I'm sorry" in reply.text  # kind when it is a false alarm
    await user.expect_silence(0.3)

    # While another feature waits for free text (a note), the guard runs first and the note
    # is still handed to that feature.
    assert harness.app is not None
    services = services_of(harness.app)
    received: list[str] = []

    async def take_note(update: Any, ctx: Any, text: str, state: dict[str, Any]) -> None:
        received.append(text)
        await update.effective_message.reply_text("Note saved.")

    services.text_inputs["test.note"] = take_note
    await set_awaiting_for(harness, 7108, "test.note")
    await user.send("Bad night. I keep thinking about suicide.")
    first, second = await user.next_message(), await user.next_message()
    assert "local emergency number" in first.text
    assert second.text == "Note saved."
    assert received == ["Bad night. I keep thinking about suicide."]


async def test_crisis_words_are_answered_even_before_the_note_is_accepted(
    harness: BotHarness,
) -> None:
    user = harness.user(7113)
    await user.send("/start")
    await user.next_message()
    await user.next_message()
    await user.send("I don't want to live anymore")
    reply = await user.next_message()
    assert "local emergency number" in reply.text
    await user.expect_silence(0.2)


async def set_awaiting_for(harness: BotHarness, user_id: int, kind: str) -> None:
    assert harness.app is not None

    class _Ctx:  # set_awaiting only needs ctx.store
        store = services_of(harness.app).store

    await set_awaiting(_Ctx(), user_id, kind)  # type: ignore[arg-type]


async def test_export_counts_match_what_is_stored(harness: BotHarness) -> None:
    user = await ready_user(harness, 7109)
    episodes = week_of_episodes(WEDNESDAY)
    await seed(harness, 7109, "episodes", episodes)
    await seed(harness, 7109, "relief_runs", [relief_run(WEDNESDAY, "warm_compress", None)] * 2)
    await user.send("/export")
    assert "everything I have stored" in (await user.next_message()).text
    json_doc, csv_doc = await user.next_message(), await user.next_message()
    assert json_doc.filename == "twitch-coach-export-20261125.json"
    assert csv_doc.filename == "twitch-coach-episodes-20261125.csv"
    assert json_doc.file_bytes is not None and csv_doc.file_bytes is not None
    exported = json.loads(json_doc.file_bytes.decode("utf-8"))
    stored = harness.stored(7109)
    for table, docs in stored.items():
        if table != "_meta":
            assert len(exported["tables"][table]) == len(docs), table
    assert exported["profile"]["tz"] == "Europe/Berlin"
    rows = list(csv.DictReader(io.StringIO(csv_doc.file_bytes.decode("utf-8"))))
    assert len(rows) == len(stored["episodes"]) == len(episodes)
    assert {r["note"] for r in rows} >= {"ouch, “calf” again"}
    assert all(r["started_at_local"].endswith("+01:00") for r in rows)
    assert "6 episodes" in csv_doc.text


async def test_forget_deletes_everything_of_that_user_only(harness: BotHarness) -> None:
    gone = await ready_user(harness, 7777101)
    kept = await onboard(harness, 7777202)
    for uid in (7777101, 7777202):
        await seed(harness, uid, "episodes", week_of_episodes(WEDNESDAY))
        await seed(harness, uid, "relief_runs", [relief_run(WEDNESDAY, "warm_compress", "same")])
    assert harness.app is not None and harness.app.job_queue is not None

    async def noop(_ctx: Any) -> None:
        return None

    for uid in (7777101, 7777202):  # per-user jobs are named by the shared helper
        harness.app.job_queue.run_once(noop, 3600, name=user_job_name("rl.fu", uid))
    assert harness.leftovers(7777101)

    await gone.send("/forget")
    ask = await gone.next_message()
    assert "Delete everything?" in ask.text and "/export" in ask.text
    await gone.press("Keep my data")
    assert "nothing was deleted" in (await gone.next_message()).text
    assert harness.stored(7777101)["episodes"]
    answer = await gone.press_data(ask.callback_data["🗑 Yes, delete everything"], ask.message_id)
    assert answer is not None and "expired" in answer  # the old confirmation is void now
    assert harness.stored(7777101)["episodes"]

    await gone.send("/forget")
    await gone.next_message()
    await gone.press("Yes, delete everything")
    assert "Everything I had stored about you is deleted" in (await gone.next_message()).text

    assert harness.leftovers(7777101) == []
    names = [job.name for job in harness.app.job_queue.jobs()]
    assert "rl.fu.u7777101" not in names and "rl.fu.u7777202" in names
    assert len(harness.stored(7777202)["episodes"]) == 6
    assert harness.stored_profile(7777202)["onboarded"] is True

    await gone.send("/start")
    assert "I'm Fibro Twitch Coach" in (await gone.next_message()).text
    assert "not a doctor" in (await gone.next_message()).text
    profile = harness.stored_profile(7777101)
    assert profile["accepted"] is False and "episodes" not in harness.stored(7777101)
    await kept.send("/week")
    assert (await kept.next_message()).kind == "photo"


async def test_privacy_and_forget_work_before_the_note_is_accepted(harness: BotHarness) -> None:
    user = harness.user(7110)
    await user.send("/privacy")
    first_contact = (await user.next_message()).text  # the privacy text, not the gate's hint
    assert "not end-to-end encrypted" in first_contact and "/forget" in first_contact
    await user.send("/forget")
    assert "nothing stored about you" in (await user.next_message()).text
    await user.send("/start")
    await user.next_message()
    await user.next_message()
    await user.send("/privacy")
    privacy = await user.next_message()
    assert "not end-to-end encrypted" in privacy.text and "/forget" in privacy.text
    await user.send("/forget")
    await user.next_message()
    await user.press("Yes, delete everything")
    assert "deleted" in (await user.next_message()).text
    assert not harness.has_data(7110) and harness.leftovers(7110) == []


async def quiet(harness: BotHarness, when: datetime, user: FakeUser) -> None:
    """Move the clock, wait for a tick at that time and its pushes: nothing came."""
    assert harness.app is not None
    harness.clock.set(when)
    await services_of(harness.app).pushes.settled()
    await user.expect_silence(0)


async def test_sunday_summary_is_opt_in_sent_once_and_never_in_quiet_hours(
    harness: BotHarness,
) -> None:
    user = await ready_user(harness, 7111)  # Wednesday
    await user.press("Not now")
    await user.next_message()
    one_place = [{**e, "regions": ["face"]} for e in week_of_episodes(SUNDAY_EVENING)]
    await seed(harness, 7111, "episodes", one_place)  # nothing for the GP note to flag
    await quiet(harness, SUNDAY_EVENING, user)  # not opted in
    harness.clock.set(WEDNESDAY + timedelta(days=7))
    await user.send("/week")
    await user.next_message()
    await user.next_message()
    answer = await user.press("Sunday evenings")
    assert answer is not None and "Sunday evenings" in answer
    edited = await user.next_message()
    assert edited.is_edit and edited.labels == ["🔕 Stop the Sunday summary"]
    assert harness.stored_profile(7111)["weekly_summary"] is True

    # That Sunday the bot was down from 18:00 to 21:30: past the evening window, none today.
    first_sunday = SUNDAY_EVENING + timedelta(days=7)  # 18:10 in Berlin
    await quiet(harness, first_sunday.replace(hour=20, minute=30), user)
    assert "weekly_sent_week" not in harness.stored_profile(7111)
    second_sunday = first_sunday + timedelta(days=7)
    harness.clock.set(second_sunday - timedelta(minutes=10, seconds=2))  # 17:59:58
    photo, text = await user.next_message(), await user.next_message()
    assert photo.kind == "photo" and "Episodes:" in text.text
    assert text.labels == ["🔕 Stop the Sunday summary"]
    assert harness.stored_profile(7111)["weekly_sent_week"] == "2026-W50"
    await quiet(harness, second_sunday + timedelta(minutes=30), user)  # once per week


async def test_gp_note_at_most_once_a_month_and_red_flag_recheck_after_four_weeks(
    harness: BotHarness,
) -> None:
    user = await ready_user(harness, 7112)
    await user.press("Not now")
    await user.next_message()
    evening = datetime(2026, 12, 9, 17, 5, tzinfo=UTC)  # a Wednesday, 18:05 in Berlin
    await seed(
        harness,
        7112,
        "episodes",
        [episode(evening - timedelta(days=d), 4) for d in (0, 6, 12, 18)],
    )
    note = await evening_push(harness, evening, user)
    assert "see a GP" in note.text and "more than two weeks" in note.text
    await user.expect_silence(0)  # the red-flag check was offered two weeks ago: not yet
    offer = await evening_push(harness, evening + timedelta(days=20), user)  # 4 weeks on
    assert "safety check" in offer.text and offer.labels == ["Start the check", "Not now"]
    await user.expect_silence(0)  # the GP note: not again within 30 days
    await quiet(harness, evening + timedelta(days=21), user)
    await quiet(harness, evening + timedelta(days=30, hours=1), user)  # 19:05: window over
    sunday = datetime(2027, 1, 10, 18, 30, tzinfo=UTC)  # Sunday 19:30 Berlin, window over
    await seed(harness, 7112, "episodes", [episode(sunday - timedelta(days=d), 3) for d in (1, 16)])
    await quiet(harness, sunday, user)
    monday = sunday + timedelta(days=1, hours=-1)  # 18:30 the next day
    note = await evening_push(harness, monday, user)
    assert "see a GP" in note.text
    await user.press("Start the check", message_id=offer.message_id)  # the offer still works
    assert "Question 1 of 7" in (await user.next_message()).text


async def evening_push(harness: BotHarness, when: datetime, user: FakeUser) -> Any:
    """Move the clock to `when`, wait for the tick and its pushes, return the one message."""
    assert harness.app is not None
    harness.clock.set(when)
    await services_of(harness.app).pushes.settled()
    return await user.next_message(timeout=0.1)
