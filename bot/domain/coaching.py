"""Daily coaching, pure logic: the tip library and which tip to send.

No Telegram, no storage: everything takes plain values (and an explicit "now") so it is
unit-tested across long histories. *When* the morning tip is due is the rule every daily push
shares (`bot.domain.pushtime`): the person's local time, at most once per local date
(`last_tip_date`, stored before sending), catch-up after downtime, quiet hours, DST-safe.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.sources import Source, SourceError, load_sources, source_ids, unknown_sources

TOPICS = ("sleep", "stress", "hydration_electrolytes", "pacing", "movement")
MIN_TIPS_PER_TOPIC = 12


# ---------------------------------------------------------------------------- tip library


class Tip(BaseModel):
    """One tip as written in content/tips/<topic>.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9_]{3,24}$")  # stored in history and in button data
    topic: str
    title: str = Field(min_length=3, max_length=60)
    body: str = Field(min_length=20, max_length=400)  # fits a phone screen
    try_today: str | None = Field(default=None, min_length=5, max_length=200)
    source: str = Field(min_length=2)

    @field_validator("topic")
    @classmethod
    def _known_topic(cls, value: str) -> str:
        if value not in TOPICS:
            raise ValueError(f"unknown topic {value!r}; topics are {TOPICS}")
        return value


class TipFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    tips: tuple[Tip, ...] = Field(min_length=1)


class TipLibraryError(ValueError):
    """The tip content is invalid; the message names the file and the problem."""


# Doses have no place in tips: amounts with units, "take 2", dose words.
DOSE_PATTERN = re.compile(
    r"\b\d+(?:[.,]\d+)?\s*(?:mg|mcg|µg|ug|g|grams?|iu|i\.u\.|ml|l|litres?|liters?|mmol)\b"
    r"|\btake\s+(?:\d+|one|two|three|four)\b"
    r"|\b(?:dose|doses|dosage|milligrams?|micrograms?)\b"
    r"|\b\d+\s*(?:tablets?|capsules?|pills?|drops)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TipLibrary:
    tips: tuple[Tip, ...]
    sources: Mapping[str, Source]

    def by_id(self, tip_id: str) -> Tip | None:
        return self._index().get(tip_id)

    def by_topic(self, topic: str) -> tuple[Tip, ...]:
        return tuple(t for t in self.tips if t.topic == topic)

    def _index(self) -> dict[str, Tip]:
        return {t.id: t for t in self.tips}


def load_tip_library(folder: Path, sources: Mapping[str, Source] | None = None) -> TipLibrary:
    """Read content/tips/*.yaml (one file per topic); raise TipLibraryError.

    ``sources`` default to content/sources.yaml beside the folder (bot/domain/sources.py).
    """
    if sources is None:
        try:
            sources = load_sources(folder.parent / "sources.yaml")
        except SourceError as exc:
            raise TipLibraryError(str(exc)) from exc
    tips: list[Tip] = []
    for path in sorted(folder.glob("*.yaml")):
        try:
            tips.extend(TipFile.model_validate(yaml.safe_load(path.read_text("utf-8"))).tips)
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise TipLibraryError(f"{path}: {exc}") from exc
    problems = library_problems(tips, sources)
    if problems:
        raise TipLibraryError("; ".join(problems))
    return TipLibrary(tuple(tips), sources)


def library_problems(tips: Sequence[Tip], sources: Mapping[str, Source]) -> list[str]:
    """Everything wrong with a set of tips beyond field shapes (also used by the content tests)."""
    problems = []
    ids = Counter(t.id for t in tips)
    problems += [f"duplicate tip id {i}" for i, n in ids.items() if n > 1]
    per_topic = Counter(t.topic for t in tips)
    problems += [
        f"topic {topic} has {per_topic[topic]} tips, needs {MIN_TIPS_PER_TOPIC}"
        for topic in TOPICS
        if per_topic[topic] < MIN_TIPS_PER_TOPIC
    ]
    for tip in tips:
        unknown = unknown_sources(tip.source, sources)
        if unknown:
            problems.append(f"tip {tip.id}: unknown source {', '.join(unknown)!r}")
        else:
            off_topic = [s for s in source_ids(tip.source) if tip.topic not in sources[s].topics]
            if off_topic:
                problems.append(f"tip {tip.id}: {off_topic} do not cover the topic {tip.topic}")
        text = " ".join([tip.title, tip.body, tip.try_today or ""])
        if DOSE_PATTERN.search(text):
            problems.append(f"tip {tip.id} mentions a dose")
        if "supplement" in text.lower() and "clinician" not in text.lower():
            problems.append(f"tip {tip.id} mentions supplements without 'clinician'")
    return problems


# ---------------------------------------------------------------------------- choosing a tip

# Check-in triggers (content/vocabulary.en.yaml ids) -> the topic that helps with them.
# caffeine mostly harms sleep; cold muscles ease with gentle movement and warmth.
TRIGGER_TOPICS = {
    "poor_sleep": "sleep",
    "caffeine": "sleep",
    "stress": "stress",
    "overdid_it": "pacing",
    "low_fluids": "hydration_electrolytes",
    "skipped_meal": "hydration_electrolytes",
    "cold": "movement",
}
TRIGGER_WINDOW = timedelta(days=14)
TRIGGER_CAP = 3  # at most +3: a topic is at most 4x as likely as a neutral one
HELPFUL_BONUS = 1  # any tip marked helpful in the topic lately
ROTATION_WINDOW = 10  # topic balance is judged over the last 10 tips


@dataclass(frozen=True)
class SentTip:
    tip_id: str
    topic: str


def topic_weights(
    episodes: Iterable[Mapping[str, Any]],
    now: datetime,
    helpful_topics: Iterable[str] = (),
) -> dict[str, float]:
    """Weight per topic: 1, plus 1 per recent check-in trigger that points to it (capped at
    TRIGGER_CAP), plus HELPFUL_BONUS if the user marked a tip of that topic helpful."""
    hits: Counter[str] = Counter()
    since = now - TRIGGER_WINDOW
    for episode in episodes:
        try:
            started = datetime.fromisoformat(str(episode.get("started_at")))
        except ValueError:
            continue
        if started.tzinfo is None or started < since:
            continue
        for trigger in episode.get("triggers") or ():
            topic = TRIGGER_TOPICS.get(trigger)
            if topic:
                hits[topic] += 1
    helpful = set(helpful_topics)
    return {
        t: 1 + min(hits[t], TRIGGER_CAP) + (HELPFUL_BONUS if t in helpful else 0) for t in TOPICS
    }


def choose_tip(
    library: TipLibrary,
    history: Sequence[SentTip],
    *,
    weights: Mapping[str, float] | None = None,
    not_for_me: Iterable[str] = (),
    topics_off: Iterable[str] = (),
    rng: random.Random | None = None,
) -> Tip | None:
    """The next tip for a user, or None if every tip is switched off or refused.

    The rule:
    1. Topic: among topics switched on that still have a tip not marked "not for me", never the
       topic of the previous tip (unless it is the only one). Pick the topic with the lowest
       (times shown in the last ROTATION_WINDOW tips) / weight; ties go to the topic shown
       least recently. With equal weights this is a plain rotation; a topic with weight 4
       comes up about 4 times as often as a topic with weight 1.
    2. Tip within the topic: only tips shown the fewest times so far are candidates, so no tip
       repeats before the whole pool was shown; a random one of those (rng).
    """
    rng = rng or random.Random()
    weights = weights or {}
    refused = set(not_for_me)
    off = set(topics_off)
    pools = {
        topic: [t for t in library.by_topic(topic) if t.id not in refused]
        for topic in TOPICS
        if topic not in off
    }
    pools = {topic: pool for topic, pool in pools.items() if pool}
    if not pools:
        return None
    candidates = list(pools)
    if history and len(candidates) > 1 and history[-1].topic in candidates:
        candidates.remove(history[-1].topic)
    recent = Counter(h.topic for h in history[-ROTATION_WINDOW:])
    last_seen = {h.topic: i for i, h in enumerate(history)}

    def score(topic: str) -> tuple[float, int, int]:
        return (
            recent[topic] / max(weights.get(topic, 1), 0.1),
            last_seen.get(topic, -1),
            TOPICS.index(topic),
        )

    topic = min(candidates, key=score)
    shown = Counter(h.tip_id for h in history)
    pool = pools[topic]
    fewest = min(shown[t.id] for t in pool)
    return rng.choice([t for t in pool if shown[t.id] == fewest])
