"""Crisis words, red-flag rules and the safety content file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from bot.content import CONTENT_DIR, ContentError
from bot.domain import safety

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


def test_crisis_reply_has_a_general_line_and_the_local_emergency_number(
    words: safety.SafetyContent,
) -> None:
    reply = words.crisis_reply()
    assert "findahelpline.com" in reply
    assert "local emergency number" in reply


def test_every_health_item_names_a_known_source(words: safety.SafetyContent) -> None:
    for question in words.red_flags.questions:
        assert question.source in words.sources
    assert words.red_flags.source in words.sources and words.persistence.source in words.sources


def test_red_flag_outcome() -> None:
    urgent = ["swallow_speak_breathe"]
    assert safety.red_flag_outcome({"weakness": False, "tripping": False}, urgent) == "clear"
    assert safety.red_flag_outcome({"weakness": True}, urgent) == "see_doctor"
    assert safety.red_flag_outcome({"swallow_speak_breathe": True}, urgent) == "urgent"


def test_red_flag_record_has_the_contract_shape() -> None:
    record = safety.red_flag_record({"thinner": True}, NOW)
    assert record == {
        "asked_at": "2026-11-25T12:00:00+00:00",
        "answers": {
            "weakness": False,
            "thinner": True,
            "swallow_speak_breathe": False,
            "tripping": False,
        },
        "any_yes": True,
    }


def test_recheck_every_four_weeks() -> None:
    assert safety.recheck_due(None, NOW)
    assert not safety.recheck_due(NOW - timedelta(days=27), NOW)
    assert safety.recheck_due(NOW - timedelta(days=28), NOW)


def test_gp_note_names_the_flags(words: safety.SafetyContent) -> None:
    note = words.gp_note(["lasting", "several_places"])
    assert "more than two weeks" in note and "more than one part" in note
    assert "worth mentioning to your GP" in note


def test_bad_safety_content_is_a_clear_error(tmp_path: Path) -> None:
    raw = yaml.safe_load((CONTENT_DIR / "safety.en.yaml").read_text(encoding="utf-8"))
    raw["crisis"]["resources"] = [{"text": "call someone", "source": "findahelpline"}]
    path = tmp_path / "safety.en.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ContentError, match="local emergency number"):
        safety.load_safety(path)
    raw = yaml.safe_load((CONTENT_DIR / "safety.en.yaml").read_text(encoding="utf-8"))
    raw["red_flags"]["questions"][0]["id"] = "renamed"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ContentError, match="question ids"):
        safety.load_safety(path)
