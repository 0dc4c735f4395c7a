"""Reading ease of everything a person reads: tired people with "fibro fog" need plain words.

Flesch reading ease (textstat) of each text of at least 8 words, HTML and placeholders removed:
at least 95 % of texts score 60 or more ("plain English"). Shorter texts (buttons, labels) are
left out: the formula means little for a few words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import textstat
import yaml

from bot.content import CONTENT_DIR, load_content

MIN_WORDS = 8
PLAIN_ENGLISH = 60
SHARE = 0.95
SAFETY_SKIP = {"phrases", "id", "source", "urgent", "if_yes"}  # matched words and ids, not read


def _strings(node: Any, skip: set[str]) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key not in skip:
                yield from _strings(value, skip)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, skip)
    elif isinstance(node, str):
        yield node


def texts() -> dict[str, str]:
    content = load_content()
    found = {key: content.t(key) for key in sorted(content.messages.keys())}
    for tip in content.tips.tips:
        found[f"{tip.id}.body"] = tip.body
        found[f"{tip.id}.try_today"] = tip.try_today or ""
    for routine in content.relief.routines:
        for index, step in enumerate(routine.steps):
            found[f"{routine.id}.step{index}"] = step.text
        for index, note in enumerate(routine.safety):
            found[f"{routine.id}.safety{index}"] = note
    raw = yaml.safe_load((CONTENT_DIR / "safety.en.yaml").read_text(encoding="utf-8"))
    for index, text in enumerate(_strings(raw, SAFETY_SKIP)):
        found[f"safety.{index}"] = text
    return found


def readable(text: str) -> str:
    text = re.sub(r"<[^>]+>", "", text)
    return re.sub(r"\{[^}]*\}", "it", text).strip()


def test_reading_ease_is_plain_english_for_nearly_every_text() -> None:
    scores = {
        key: textstat.flesch_reading_ease(readable(text))
        for key, text in texts().items()
        if len(readable(text).split()) >= MIN_WORDS
    }
    assert len(scores) > 250
    hard = sorted((score, key) for key, score in scores.items() if score < PLAIN_ENGLISH)
    share = 1 - len(hard) / len(scores)
    assert share >= SHARE, f"{share:.1%} plain; hardest: {hard[:10]}"
