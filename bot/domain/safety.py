"""Safety rules: crisis-word detection and the red-flag check. Pure; wording is in
content/safety.en.yaml (loaded and validated here, at start and in tests).

* Crisis words: text is lower-cased, apostrophes dropped ("don't" -> "dont") and everything that
  is not a letter or digit becomes a space; a phrase matches as whole words. Deliberately broad:
  a caring reply to a false alarm costs little, silence after a real one costs a lot.
* Red flags (NHS "twitching" advice): any "yes" means "see a doctor"; a "yes" to a question marked
  ``urgent`` (swallowing, speaking, breathing) means "today". Never a diagnosis.
* The check is offered at the end of onboarding and again when ``RECHECK_DAYS`` have passed since
  it was last offered (answered or skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.content import CONTENT_DIR, ContentError

RECHECK_DAYS = 28
QUESTION_IDS = ("weakness", "thinner", "swallow_speak_breathe", "tripping")  # stored: never rename
_NON_WORD = re.compile(r"[^\w]+")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Strict):
    id: str
    short: str = Field(min_length=1, max_length=60)  # for the report
    text: str = Field(min_length=1)
    urgent: bool
    source: str


class RedFlagText(_Strict):
    source: str
    intro: str
    start_button: str = Field(max_length=40)
    skip_button: str = Field(max_length=40)
    skipped: str
    progress: str
    yes_button: str = Field(max_length=20)
    no_button: str = Field(max_length=20)
    all_clear: str
    see_doctor: str
    see_doctor_urgent: str
    questions: tuple[Question, ...]

    @model_validator(mode="after")
    def _known_ids(self) -> RedFlagText:
        if tuple(q.id for q in self.questions) != QUESTION_IDS:
            raise ValueError(f"red-flag question ids must be exactly {QUESTION_IDS}")
        if not any(q.urgent for q in self.questions):
            raise ValueError("at least one red-flag question must be urgent")
        return self


class PersistenceText(_Strict):
    source: str
    lasting: str
    several_places: str
    message: str


class Resource(_Strict):
    text: str
    source: str


class CrisisText(_Strict):
    source: str
    phrases: tuple[str, ...] = Field(min_length=1)
    reply: str
    resources: tuple[Resource, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _has_emergency_number(self) -> CrisisText:
        if not any("local emergency number" in r.text for r in self.resources):
            raise ValueError("crisis resources must mention 'your local emergency number'")
        if "{resources}" not in self.reply:
            raise ValueError("crisis reply must have a {resources} placeholder")
        return self


class SafetyContent(_Strict):
    red_flags: RedFlagText
    persistence: PersistenceText
    crisis: CrisisText
    sources: dict[str, str]

    @model_validator(mode="after")
    def _sources_exist(self) -> SafetyContent:
        used = {self.red_flags.source, self.persistence.source, self.crisis.source}
        used |= {q.source for q in self.red_flags.questions}
        used |= {r.source for r in self.crisis.resources}
        missing = used - set(self.sources)
        if missing:
            raise ValueError(f"unknown sources: {sorted(missing)}")
        return self

    def flag_names(self) -> dict[str, str]:
        """Persistence flag id -> plain words."""
        return {
            "lasting": self.persistence.lasting,
            "several_places": self.persistence.several_places,
        }

    def gp_note(self, flags: list[str]) -> str:
        """The "worth mentioning to your GP" message for these persistence flags."""
        names = self.flag_names()
        return self.persistence.message.format(what=" and ".join(names[f] for f in flags))

    def crisis_reply(self) -> str:
        return self.crisis.reply.format(resources="\n".join(r.text for r in self.crisis.resources))


def load_safety(path: Path | None = None) -> SafetyContent:
    """Load and validate content/safety.en.yaml; ContentError names the problem."""
    path = path or CONTENT_DIR / "safety.en.yaml"
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return SafetyContent.model_validate(raw)
    except FileNotFoundError as exc:
        raise ContentError(f"content file missing: {path}") from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise ContentError(f"{path}: {exc}") from exc


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, apostrophes removed, padded with spaces."""
    lowered = text.lower().replace("’", "").replace("'", "").replace("`", "")
    return f" {_NON_WORD.sub(' ', lowered).replace('_', ' ').strip()} "


def mentions_crisis(text: str, phrases: Iterable[str]) -> bool:
    """Whether any phrase occurs in the text as whole words (see module docstring)."""
    haystack = normalise(text)
    return any(normalise(phrase) in haystack for phrase in phrases if phrase.strip())


def red_flag_record(answers: dict[str, bool], asked_at: datetime) -> dict[str, Any]:
    """The "red_flags" table document: {asked_at, answers, any_yes}."""
    clean = {qid: bool(answers.get(qid, False)) for qid in QUESTION_IDS}
    return {"asked_at": asked_at.isoformat(), "answers": clean, "any_yes": any(clean.values())}


def red_flag_outcome(answers: dict[str, bool], urgent_ids: Iterable[str]) -> str:
    """ "urgent" if an urgent question got a yes, "see_doctor" for any other yes, else "clear"."""
    if any(answers.get(qid) for qid in urgent_ids):
        return "urgent"
    return "see_doctor" if any(answers.values()) else "clear"


def recheck_due(last_offered: datetime | None, now: datetime) -> bool:
    """Offer the check again once RECHECK_DAYS have passed since the last offer."""
    return last_offered is None or now - last_offered >= timedelta(days=RECHECK_DAYS)
