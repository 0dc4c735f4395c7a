"""The tip library: enough tips per topic, unique ids, a source each, never a dose."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.content import load_content
from bot.domain.coaching import (
    DOSE_PATTERN,
    MIN_TIPS_PER_TOPIC,
    TOPICS,
    Tip,
    TipLibraryError,
    library_problems,
    load_tip_library,
)
from bot.domain.sources import source_ids

TIPS = Path(__file__).resolve().parents[2] / "content" / "tips"
LIBRARY = load_tip_library(TIPS)


def test_every_topic_has_enough_tips() -> None:
    counts = Counter(t.topic for t in LIBRARY.tips)
    assert set(counts) == set(TOPICS)
    assert min(counts.values()) >= MIN_TIPS_PER_TOPIC


def test_ids_are_unique_and_sources_are_named() -> None:
    ids = [t.id for t in LIBRARY.tips]
    assert len(ids) == len(set(ids))
    for tip in LIBRARY.tips:
        cited = source_ids(tip.source)
        assert cited and all(LIBRARY.sources[s].title.strip() for s in cited), tip.id


def test_no_tip_mentions_a_dose() -> None:
    for tip in LIBRARY.tips:
        text = " ".join([tip.title, tip.body, tip.try_today or ""])
        assert not DOSE_PATTERN.search(text), tip.id


@pytest.mark.parametrize(
    "text",
    [
        "Take 400 mg of magnesium",
        "1000 IU of vitamin D daily",
        "take 2 before bed",
        "drink 2 litres a day",
        "about 2.5 g",
        "300mg",
        "two capsules, 2 tablets at night",
        "the usual dose",
    ],
)
def test_the_dose_check_catches_doses(text: str) -> None:
    assert DOSE_PATTERN.search(text)


@pytest.mark.parametrize(
    "text", ["Walk for 5 minutes", "a glass of water", "Take a warm bath", "2 or 3 times"]
)
def test_the_dose_check_lets_everyday_words_through(text: str) -> None:
    assert not DOSE_PATTERN.search(text)


def test_supplements_always_go_through_the_clinician() -> None:
    supplement_tips = [t for t in LIBRARY.tips if "supplement" in t.body.lower()]
    assert supplement_tips
    for tip in supplement_tips:
        assert "clinician" in tip.body.lower(), tip.id
    assert any("discuss supplements with your clinician" in t.body for t in supplement_tips)


def test_bodies_fit_a_phone_screen() -> None:
    assert max(len(t.body) for t in LIBRARY.tips) <= 400


def test_problems_are_reported_by_name() -> None:
    bad = Tip(
        id="sleep_99",
        topic="sleep",
        title="Bad",
        body="Take 400 mg of magnesium every night.",
        source="nowhere",
    )
    problems = library_problems([*LIBRARY.tips, bad, bad], LIBRARY.sources)
    assert "duplicate tip id sleep_99" in problems
    assert "tip sleep_99: unknown source 'nowhere'" in problems
    assert "tip sleep_99 mentions a dose" in problems
    off_topic = bad.model_copy(update={"id": "pace_99", "topic": "pacing", "body": "Rest a lot."})
    off_topic = off_topic.model_copy(update={"source": "fibrocanada-pacing, nhs-insomnia"})
    problems = library_problems([*LIBRARY.tips, off_topic], LIBRARY.sources)
    assert "tip pace_99: ['nhs-insomnia'] do not cover the topic pacing" in problems
    few = library_problems(LIBRARY.by_topic("sleep"), LIBRARY.sources)
    assert any(p.startswith("topic stress has 0 tips") for p in few)


def test_a_broken_tip_file_fails_at_load(tmp_path: Path) -> None:
    (tmp_path / "sleep.yaml").write_text("tips:\n  - {id: s1x, topic: sleep}\n")
    with pytest.raises(TipLibraryError, match=r"sleep\.yaml"):
        load_tip_library(tmp_path, LIBRARY.sources)
    with pytest.raises(TipLibraryError, match=r"sources\.yaml"):
        load_tip_library(tmp_path)  # no content/sources.yaml beside the folder


def test_every_topic_has_a_label_in_the_messages() -> None:
    messages = load_content().messages
    for topic in TOPICS:
        assert f"tips.topic_{topic}" in messages
