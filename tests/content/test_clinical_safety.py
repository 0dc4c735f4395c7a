"""The clinical safety pass over content/ (issue 11): emergencies first, no false reassurance,
no pressure on eyelids or the front of the neck, breathing steps that never read as "hold your
breath", seated options, no cold on hands and feet, and sources that cover what they support.

Each test reads the content as a person would see it (rendered steps, plain text without HTML).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import yaml

from bot.content import CONTENT_DIR, Content, load_content
from bot.domain import safety
from bot.domain.relief import Routine
from bot.telegram.relief import step_text

CONTENT = load_content()
WORDS = safety.load_safety()
RELIEF_RAW = {
    path.stem: yaml.safe_load(path.read_text()) for path in (CONTENT_DIR / "relief").glob("*.yaml")
}
EMERGENCY_FIRST = re.compile(r"^\W*call your local emergency number", re.IGNORECASE)
PRESSURE = re.compile(r"\b(press\w*|circles?|massag\w*|rub\w*|knead\w*|strok\w*)\b", re.IGNORECASE)
EYE = re.compile(r"\b(eye|eyes|eyelids?|eyeballs?|lids?)\b", re.IGNORECASE)
BREATH = re.compile(r"\bbreath\w*", re.IGNORECASE)
STANDING = re.compile(r"\b(stand\w*|walk\w*|wall)\b", re.IGNORECASE)
COLD = re.compile(r"\b(cold|ice|frozen)\b", re.IGNORECASE)


def plain(text: str) -> str:
    """What the person reads: HTML tags removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", text).split())


def routines(content: Content = CONTENT) -> Iterator[Routine]:
    yield from content.relief.routines


def routine_text(routine: Routine) -> str:
    return " ".join([routine.title, *routine.safety, *(s.text for s in routine.steps)])


# ----------------------------------------------------------------------- safety wording


def test_emergency_red_flag_reply_starts_with_the_emergency_number() -> None:
    text = plain(WORDS.red_flags.emergency)
    assert EMERGENCY_FIRST.match(text), text
    assert "999" in text and "112" in text and "911" in text


def test_urgent_red_flag_reply_names_the_emergency_number_if_it_gets_worse() -> None:
    text = plain(WORDS.red_flags.see_doctor_urgent)
    assert "today" in text and "emergency number" in text


def test_the_check_asks_whether_speech_or_swallowing_trouble_came_on_suddenly() -> None:
    red = WORDS.red_flags
    by_id = {q.id: q for q in red.questions}
    assert by_id["speech_swallow"].if_yes == "ask_onset"
    assert by_id["breathing"].if_yes == "emergency"
    assert "suddenly" in plain(red.onset_question) and "weeks" in plain(red.onset_question)
    # Emergencies are asked first, before any slower sign.
    assert [q.id for q in red.questions[:2]] == ["breathing", "speech_swallow"]
    assert "droop" in by_id["speech_swallow"].text  # a drooping face: Act FAST
    assert "nhs-stroke" in by_id["speech_swallow"].source


def test_no_false_all_clear() -> None:
    text = plain(WORDS.red_flags.all_clear)
    assert "Nothing there" not in text and "needs a doctor" not in text
    assert "none of these" in text.lower() and "GP" in text  # what was checked; door open


def test_red_flags_ask_what_the_nhs_twitching_and_mnd_pages_list() -> None:
    questions = WORDS.red_flags.questions
    asked = " ".join(plain(q.text).lower() for q in questions)
    for sign in ("weak", "stiff", "medicine", "grip", "stairs", "weight", "cry", "laugh"):
        assert sign in asked, sign
    assert "twitching area" not in asked  # weakness anywhere counts
    mnd = [q for q in questions if re.search(r"grip|stairs|weight|cry", q.text)]
    assert mnd and all("nhs-mnd" in q.source for q in mnd)
    medicine = next(q for q in questions if "medicine" in q.text)
    note = plain(medicine.yes_note or "").lower()
    assert "prescriber" in note and "don't stop" in note


def test_crisis_reply_puts_the_emergency_line_first_and_stays_kind_when_wrong() -> None:
    reply = WORDS.crisis_reply()
    assert reply.index("emergency number") < reply.index("findahelpline")
    assert "misread" in reply and "sorry" in reply.lower()


@pytest.mark.parametrize(
    "text",
    [
        "I can't go on like this",
        "thinking of taking all my pills",
        "I took an overdose",
        "I don't want to be here any more",
        "honestly kms",
        "want to unalive myself",
    ],
)
def test_new_crisis_phrasings_are_found(text: str) -> None:
    assert safety.mentions_crisis(text, WORDS.crisis.phrases)


def test_a_likely_false_alarm_still_gets_the_kind_fallback() -> None:
    text = "I hurt myself lifting the shopping"
    assert safety.mentions_crisis(text, WORDS.crisis.phrases)  # deliberately broad
    assert "if i misread you, i'm sorry" in WORDS.crisis_reply().lower()


def test_persistence_note_says_see_a_gp_as_the_nhs_does() -> None:
    note = plain(WORDS.gp_note(["lasting"]))
    assert "see a GP" in note and "next visit" not in note


def test_the_first_note_says_what_to_do_in_an_emergency() -> None:
    assert "emergency number" in plain(CONTENT.t("onboarding.disclaimer"))


# ----------------------------------------------------------------------- relief routines


def test_no_face_step_presses_on_the_eye_and_pressure_stays_on_temples_and_jaw() -> None:
    for routine in routines():
        if "face" not in routine.regions:
            continue
        for step in routine.steps:
            pressure = PRESSURE.search(step.text)
            assert not (pressure and EYE.search(step.text)), (routine.id, step.text)
            if pressure:
                assert re.search(r"temple|jaw", step.text), (routine.id, step.text)


def test_no_neck_step_presses_on_the_front_of_the_neck() -> None:
    for routine in routines():
        if "neck_shoulders" not in routine.regions:
            continue
        for step in routine.steps:
            assert not re.search(r"front of the neck|throat", step.text), routine.id
            if PRESSURE.search(step.text):
                assert "back and sides" in step.text, (routine.id, step.text)


def test_no_breathing_step_is_rendered_with_hold() -> None:
    checked = 0
    for routine in routines():
        for index, step in enumerate(routine.steps):
            if BREATH.search(step.text):
                shown = plain(step_text(CONTENT.t, routine, index)).lower()
                assert "hold" not in shown, (routine.id, index, shown)
                checked += 1
    assert checked >= 4


def test_timed_steps_that_are_not_holds_say_keep_going() -> None:
    for routine in routines():
        for index, step in enumerate(routine.steps):
            if step.seconds is not None and step.timer != "hold":
                shown = plain(step_text(CONTENT.t, routine, index)).lower()
                assert "keep" in shown and "hold" not in shown, (routine.id, index)


def test_breathing_is_gentle_with_another_focus_offered() -> None:
    for rid in ("slow_breathing", "belly_breath_release"):
        text = routine_text(CONTENT.relief.get(rid)).lower()  # type: ignore[arg-type]
        assert "gentle" in text and "feet on the floor" in text, rid
        assert not re.search(r"\bbreathe in\b[^.]*\bfor 4\b", text), rid  # no counted deep breaths


def test_cold_is_not_offered_for_hands_and_feet_and_is_checked_often() -> None:
    cold = [r for r in routines() if COLD.search(routine_text(r))]
    assert cold
    for routine in cold:
        assert not {"arms_hands", "calves_feet"} & set(routine.regions), routine.id
        text = routine_text(routine).lower()
        assert "numb" in text and "white or blue" in text and "every 5 minutes" in text


def test_every_standing_or_walking_routine_has_a_seated_alternative() -> None:
    standing = [r for r in routines() if STANDING.search(routine_text(r))]
    assert standing
    for routine in standing:
        alternative = RELIEF_RAW[routine.id].get("seated_alternative")
        seated = CONTENT.relief.get(alternative or "")
        assert seated is not None, routine.id
        assert not STANDING.search(routine_text(seated)), seated.id
        assert set(seated.regions) >= set(routine.regions), (routine.id, seated.id)
        assert any("steady" in note for note in routine.safety), routine.id


def test_no_routine_asks_to_balance_on_one_leg_or_rise_onto_the_toes() -> None:
    for routine in routines():
        text = routine_text(routine).lower()
        assert "onto your toes" not in text and "one leg" not in text, routine.id
        assert "weight of the head" not in text, routine.id


def test_neck_stretch_goes_only_to_a_gentle_stretch() -> None:
    neck = CONTENT.relief.get("neck_shoulder_release")
    assert neck is not None and "only to a gentle stretch" in routine_text(neck)


def test_chest_wording_gives_the_emergency_number_first_with_the_nhs_criteria() -> None:
    chest = [r for r in routines() if "chest_belly" in r.regions]
    assert chest
    for routine in chest:
        notes = [n for n in routine.safety if "chest pain" in n.lower()]
        assert notes, routine.id
        for note in notes:
            assert EMERGENCY_FIRST.match(note), (routine.id, note)
            for sign in ("tight or heavy", "arm", "jaw", "back", "sweating", "sick", "breath"):
                assert sign in note, (routine.id, sign)


def test_eyelid_routine_names_when_to_see_a_doctor_and_the_emergency() -> None:
    face = CONTENT.relief.get("face_eyelid_calm")
    assert face is not None
    text = routine_text(face).lower()
    for sign in ("closes", "spreads", "droops", "red or swollen"):
        assert sign in text, sign
    assert "sudden" in text and "emergency number" in text


def test_back_routine_names_cauda_equina_signs_as_an_emergency() -> None:
    back = [r for r in routines() if r.regions == ("back",)]
    assert back
    for routine in back:
        text = routine_text(routine).lower()
        assert "bottom or genitals" in text and "bladder or bowel" in text, routine.id
        assert "emergency number" in text, routine.id


def test_warmth_is_safe_on_the_face_in_bed_and_in_the_bath() -> None:
    warmth = CONTENT.relief.get("warmth")
    assert warmth is not None
    text = routine_text(warmth).lower()
    assert "on the face, only a warm damp cloth" in text
    assert "asleep" in text and "get up slowly" in text and "light-headed" in text
    for tip in CONTENT.tips.tips:
        body = f"{tip.body} {tip.try_today or ''}".lower()
        if "heat pack" in body or "heat pad" in body:
            assert "asleep" in body, tip.id


def test_worse_after_a_routine_offers_rest_first() -> None:
    text = plain(CONTENT.t("relief.outcome_worse")).lower()
    assert "rest" in text and "another routine" in text
    assert text.index("rest") < text.index("another routine")


# ----------------------------------------------------------------------- tips


FLUIDS = re.compile(r"\b(water|drinks?|drinking|fluids?|salt|salty|potassium)\b", re.IGNORECASE)
CAVEAT = "if a doctor has told you to limit fluids, salt or potassium"


def test_fluids_salt_and_potassium_tips_carry_the_medical_advice_caveat() -> None:
    checked = 0
    for tip in CONTENT.tips.by_topic("hydration_electrolytes"):
        text = f"{tip.body} {tip.try_today or ''}"
        if FLUIDS.search(text) and "prescriber" not in text:
            assert CAVEAT in tip.body.lower(), tip.id
            checked += 1
    assert checked >= 5


def test_a_tip_names_the_common_medicine_culprits_and_the_prescriber() -> None:
    bodies = [t.body.lower() for t in CONTENT.tips.tips]
    medicine = [b for b in bodies if "salbutamol" in b]
    assert medicine
    for body in medicine:
        for word in ("stimulant", "caffeine", "decongestant", "antidepressant", "stopping"):
            assert word in body, word
        assert "prescriber" in body and "don't stop" in body
    assert any("alcohol" in b and "sleepy" in b and "medicine" in b for b in bodies)


def test_logging_a_medicine_change_leads_to_the_prescriber_note() -> None:
    note = plain(CONTENT.t("checkin.medicine_note")).lower()
    assert "prescriber" in note and "don't stop" in note


SOFTENED = (
    "softer muscles are less likely to twitch",
    "uses up the stress hormones",
    "even mild dehydration",
    "potassium helps muscles relax",
    "many minor twitches settle",
)
TONE = ("movement is medicine", "bounce back", "walk it off", "will understand")


def _all_texts() -> Iterator[tuple[str, str]]:
    for key in sorted(CONTENT.messages.keys()):
        yield key, CONTENT.t(key)
    for tip in CONTENT.tips.tips:
        yield tip.id, " ".join([tip.title, tip.body, tip.try_today or ""])
    for routine in routines():
        yield routine.id, routine_text(routine)
    raw = yaml.safe_load((CONTENT_DIR / "safety.en.yaml").read_text(encoding="utf-8"))
    yield "safety", yaml.safe_dump(raw, allow_unicode=True)


def test_no_claims_beyond_the_evidence_and_no_pushing_words() -> None:
    for where, text in _all_texts():
        lowered = plain(text).lower()
        for phrase in (*SOFTENED, *TONE):
            assert phrase not in lowered, (where, phrase)
        assert not re.search(r"\bjust\b", lowered), (where, lowered)


def test_every_source_has_an_address_and_covers_the_topic_of_the_tips_citing_it() -> None:
    sources = CONTENT.sources
    for sid, source in sources.items():
        assert sid == "seed" or (source.url or "").startswith("https://"), sid
    for tip in CONTENT.tips.tips:
        cited = [s.strip() for s in tip.source.split(",")]
        assert all(s in sources for s in cited), tip.id
        assert all(tip.topic in sources[s].topics for s in cited), tip.id


def test_caffeine_and_twitching_tips_cite_a_page_that_mentions_twitching() -> None:
    for tip in CONTENT.tips.tips:
        text = tip.body.lower()
        if "caffeine" in text and "twitch" in text:
            assert {"nhs-twitch", "medlineplus-twitching"} & set(tip.source.split(", ")), tip.id


def test_eular_is_cited_only_for_what_it_covers() -> None:
    for tip in CONTENT.tips.tips:
        if "eular-2016" in tip.source:
            assert tip.topic in ("movement", "stress"), tip.id
            assert not re.search(r"break|baseline|balance|sitting", tip.body.lower()), tip.id
    massage = CONTENT.relief.get("self_massage")
    assert massage is not None and "eular-2016" not in massage.source  # EULAR: weak against
