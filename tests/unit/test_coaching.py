"""Pure coaching logic: which tip comes next (rotation, weights, refusals). When it comes is the
shared push rule, tested in test_pushtime.py; the morning-tip push kind in test_pushes.py."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

from bot.domain.coaching import (
    TOPICS,
    SentTip,
    Tip,
    TipLibrary,
    choose_tip,
    load_tip_library,
    topic_weights,
)

CONTENT = Path(__file__).resolve().parents[2] / "content" / "tips"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# ---------------------------------------------------------------------------- choosing


def make_library(per_topic: int = 4) -> TipLibrary:
    tips = tuple(
        Tip(
            id=f"{topic[:5]}_{n:02d}",
            topic=topic,
            title=f"{topic} {n}",
            body="A gentle, concrete idea for the day ahead.",
            source="seed",
        )
        for topic in TOPICS
        for n in range(per_topic)
    )
    return TipLibrary(tips, {"seed": "x"})


def run(library: TipLibrary, picks: int, seed: int = 1, **kwargs: object) -> list[SentTip]:
    rng = random.Random(seed)
    history: list[SentTip] = []
    for _ in range(picks):
        tip = choose_tip(library, history, rng=rng, **kwargs)  # type: ignore[arg-type]
        assert tip is not None
        history.append(SentTip(tip.id, tip.topic))
    return history


def test_topics_rotate_and_never_repeat_back_to_back() -> None:
    history = run(make_library(), 10)
    assert [h.topic for h in history[:5]] == list(TOPICS)  # a plain rotation
    assert {h.topic for h in history[5:]} == set(TOPICS)
    assert all(a.topic != b.topic for a, b in pairwise(history))


def test_no_tip_repeats_before_its_topics_pool_is_used_up() -> None:
    library = load_tip_library(CONTENT)
    history = run(library, 200, seed=7)
    for topic in TOPICS:
        shown = [h.tip_id for h in history if h.topic == topic]
        pool = len(library.by_topic(topic))
        for start in range(0, len(shown) - pool + 1, pool):
            assert len(set(shown[start : start + pool])) == pool, topic
    assert len({h.tip_id for h in history[:60]}) == 60


def test_not_for_me_and_topics_off_are_respected() -> None:
    library = make_library()
    refused = {"sleep_00", "sleep_01"}
    history = run(library, 40, not_for_me=refused, topics_off={"stress"})
    assert not refused & {h.tip_id for h in history}
    assert "stress" not in {h.topic for h in history}
    assert choose_tip(library, [], topics_off=set(TOPICS)) is None
    all_ids = {t.id for t in library.tips}
    assert choose_tip(library, [], not_for_me=all_ids) is None
    # One topic left: it may follow itself.
    only = run(library, 6, topics_off=set(TOPICS) - {"pacing"})
    assert {h.topic for h in only} == {"pacing"}


def test_trigger_weights_follow_recent_check_ins() -> None:
    now = utc(2026, 6, 10, 8)
    recent = (now - timedelta(days=2)).isoformat()
    old = (now - timedelta(days=30)).isoformat()
    episodes = [
        *({"started_at": recent, "triggers": ["poor_sleep"]} for _ in range(5)),
        {"started_at": recent, "triggers": ["overdid_it", "low_fluids"]},
        {"started_at": recent, "triggers": ["skipped_meal", "not_sure"]},
        {"started_at": old, "triggers": ["stress", "stress"]},  # too old to count
        {"started_at": "yesterday", "triggers": ["stress"]},  # unreadable: ignored
        {"started_at": recent},  # no triggers at all
    ]
    weights = topic_weights(episodes, now)
    assert weights == {
        "sleep": 4,  # 5 hits, capped at 3
        "stress": 1,
        "hydration_electrolytes": 3,
        "pacing": 2,
        "movement": 1,
    }
    assert topic_weights([], now, helpful_topics={"movement"})["movement"] == 2


def test_weighted_topics_come_up_more_often_but_all_still_rotate() -> None:
    weights = {"sleep": 4, "stress": 1, "hydration_electrolytes": 1, "pacing": 2, "movement": 1}
    history = run(make_library(8), 60, weights=weights)
    counts = Counter(h.topic for h in history)
    assert counts.most_common(1)[0][0] == "sleep"
    assert counts["sleep"] >= 2 * counts["stress"]
    assert counts["pacing"] > counts["movement"]
    assert set(counts) == set(TOPICS), "every topic still appears"
    assert all(a.topic != b.topic for a, b in pairwise(history))
