"""Crisis words, red-flag rules and the safety content file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content import CONTENT_DIR, ContentError
from bot.domain import safety
from bot.domain.sources import load_sources

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def words() -> safety.SafetyContent:
    return safety.load_safety()


@pytest.mark.parametrize(
    "text",
    [
        "I want to die",
        "Honestly I just don’t want to live like this anymore",
        "some days I think about SUICIDE.",
        "thinking of self-harm again",
        "I might hurt myself",
        "everyone would be better off dead... me included",
    ],
)
def test_crisis_words_are_found(words: safety.SafetyContent, text: str) -> None:
    assert safety.mentions_crisis(text, words.crisis.phrases)


@pytest.mark.parametrize(
    "text",
    [
        "this pain is killing me",
        "my eyelid twitched all day",
        "I could die for a coffee",
        "suicidesque is not a word",  # whole words only
        "",
    ],
)
def test_ordinary_text_is_not_a_crisis(words: safety.SafetyContent, text: str) -> None:
    assert not safety.mentions_crisis(text, words.crisis.phrases)


def test_crisis_reply_has_the_emergency_number_first_then_a_helpline(
    words: safety.SafetyContent,
) -> None:
    reply = words.crisis_reply()
    assert reply.index("local emergency number") < reply.index("findahelpline.com")


def test_every_health_item_names_a_known_source(words: safety.SafetyContent) -> None:
    sources = load_sources(CONTENT_DIR / "sources.yaml")
    assert words.cited_sources() <= set(sources)
    assert {"nhs-twitch", "nhs-mnd", "nhs-stroke", "nhs-breathless"} <= words.cited_sources()


def _step(words: safety.SafetyContent, answers: dict[str, bool], onsets: dict[str, str]) -> Any:
    return safety.check_step(words.red_flags.questions, answers, onsets)


def test_the_check_asks_in_order_and_stops_at_once_for_an_emergency(
    words: safety.SafetyContent,
) -> None:
    ids = [q.id for q in words.red_flags.questions]
    assert _step(words, {}, {}) == ("ask", 0, None)
    assert _step(words, {ids[0]: False}, {}) == ("ask", 1, None)
    # Trouble breathing: the emergency number now; nothing else is asked.
    assert _step(words, {"breathing": True}, {}) == ("done", -1, "emergency")


def test_speech_trouble_asks_how_it_came_on(words: safety.SafetyContent) -> None:
    yes = {"breathing": False, "speech_swallow": True}
    index = [q.id for q in words.red_flags.questions].index("speech_swallow")
    assert _step(words, yes, {}) == ("onset", index, None)
    assert _step(words, yes, {"speech_swallow": "sudden"}) == ("done", -1, "emergency")
    assert _step(words, yes, {"speech_swallow": "unsure"}) == ("done", -1, "emergency")
    assert _step(words, yes, {"speech_swallow": "slow"}) == ("ask", index + 1, None)
    everything_else = {q.id: False for q in words.red_flags.questions} | yes
    assert _step(words, everything_else, {"speech_swallow": "slow"}) == ("done", -1, "urgent")


def test_other_answers_lead_to_a_gp_visit_or_the_all_clear(words: safety.SafetyContent) -> None:
    no = {q.id: False for q in words.red_flags.questions}
    assert _step(words, no, {}) == ("done", -1, "clear")
    assert _step(words, no | {"crying_laughing": True}, {}) == ("done", -1, "see_doctor")


def test_the_reply_adds_the_note_of_a_yes(words: safety.SafetyContent) -> None:
    red = words.red_flags
    no = {q.id: False for q in red.questions}
    assert "prescriber" in red.reply("see_doctor", no | {"medicine": True})
    assert "prescriber" not in red.reply("see_doctor", no | {"grip_stairs": True})
    assert red.reply("emergency", {"breathing": True}).startswith("🚑")


def test_red_flag_record_has_the_contract_shape() -> None:
    record = safety.red_flag_record(
        {"breathing": False, "speech_swallow": True}, {"speech_swallow": "slow"}, "urgent", NOW
    )
    assert record == {
        "asked_at": "2026-11-25T12:00:00+00:00",
        "answers": {"breathing": False, "speech_swallow": True},
        "any_yes": True,
        "onsets": {"speech_swallow": "slow"},
        "outcome": "urgent",
    }


def test_answers_to_retired_questions_stay_readable(words: safety.SafetyContent) -> None:
    red = words.red_flags
    assert red.label("weakness") == "Weakness in the twitching area"
    assert red.label("swallow_speak_breathe").startswith("Trouble swallowing")
    assert red.label("weak_or_stiff") == "A part of the body feels weak or stiff"
    assert red.label("never_existed") == "never_existed"
    assert red.onset_label("sudden") == red.onset_sudden_button


def test_recheck_every_four_weeks() -> None:
    assert safety.recheck_due(None, NOW)
    assert not safety.recheck_due(NOW - timedelta(days=27), NOW)
    assert safety.recheck_due(NOW - timedelta(days=28), NOW)


def test_gp_note_names_the_flags(words: safety.SafetyContent) -> None:
    note = words.gp_note(["lasting", "several_places"])
    assert "more than two weeks" in note and "more than one part" in note
    assert "see a GP" in note


def _write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "safety.en.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_bad_safety_content_is_a_clear_error(tmp_path: Path) -> None:
    def fresh() -> Any:
        return yaml.safe_load((CONTENT_DIR / "safety.en.yaml").read_text(encoding="utf-8"))

    raw = fresh()
    raw["crisis"]["resources"].reverse()  # the helpline before the emergency number
    with pytest.raises(ContentError, match="first crisis resource"):
        safety.load_safety(_write(tmp_path, raw))
    raw = fresh()
    raw["red_flags"]["questions"][2]["id"] = "weakness"  # a retired id used again
    with pytest.raises(ContentError, match="never reused"):
        safety.load_safety(_write(tmp_path, raw))
    raw = fresh()
    raw["red_flags"]["emergency"] = "Please see your GP.\n" + raw["red_flags"]["emergency"]
    with pytest.raises(ContentError, match="must start with the local emergency number"):
        safety.load_safety(_write(tmp_path, raw))
    raw = fresh()
    raw["red_flags"]["questions"][0]["source"] = "nhs-twitch, a-blog"
    with pytest.raises(ContentError, match="a-blog"):
        safety.load_safety(_write(tmp_path, raw))
