"""Safety rules: crisis-word detection and the red-flag check. Pure; wording is in
content/safety.en.yaml (loaded and validated here, at start and in tests).

* Crisis words: text is lower-cased, apostrophes dropped ("don't" -> "dont") and everything that
  is not a letter or digit becomes a space; a phrase matches as whole words. Deliberately broad:
  a caring reply to a false alarm costs little (it says sorry if it misread), silence after a real
  one costs a lot.
* Red flags (NHS twitching, motor neurone disease, stroke and breathlessness advice): yes/no
  questions, emergencies first. Each question says what a "yes" means (``if_yes``):
  ``emergency`` (call the emergency number now; the check stops there), ``ask_onset`` (did it
  come on suddenly or over weeks? suddenly or not sure: emergency; over weeks: a doctor today),
  or ``see_doctor`` (book a GP visit). Never a diagnosis. See ``check_step``.
* Stored answers: the "red_flags" table holds ``{asked_at, answers: {question id: yes?},
  any_yes, onsets: {question id: sudden|slow|unsure}, outcome}``, answers only for the questions
  that were asked. Question ids are never renamed; retired questions keep a label in content so
  older records stay readable.
* The check is offered at the end of onboarding and again when ``RECHECK_DAYS`` have passed since
  it was last offered (answered or skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bot.content import CONTENT_DIR, ContentError
from bot.domain.sources import load_sources, source_ids

RECHECK_DAYS = 28
ONSETS = ("sudden", "slow", "unsure")
_NON_WORD = re.compile(r"[^\w]+")

IfYes = Literal["see_doctor", "ask_onset", "emergency"]
Outcome = Literal["emergency", "urgent", "see_doctor", "clear"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Question(_Strict):
    id: str = Field(pattern=r"^[a-z0-9_]+$")
    short: str = Field(min_length=1, max_length=60)  # for the report
    text: str = Field(min_length=1)
    if_yes: IfYes = "see_doctor"
    yes_note: str | None = None  # added to the reply after a yes (e.g. about medicines)
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
    onset_question: str
    onset_sudden_button: str = Field(max_length=30)
    onset_slow_button: str = Field(max_length=30)
    onset_unsure_button: str = Field(max_length=30)
    all_clear: str
    see_doctor: str
    see_doctor_urgent: str
    emergency: str
    questions: tuple[Question, ...] = Field(min_length=1)
    retired: dict[str, str] = {}  # id -> report label of questions no longer asked

    @model_validator(mode="after")
    def _checked(self) -> RedFlagText:
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids) or set(ids) & set(self.retired):
            raise ValueError("red-flag question ids must be unique, and never reused once retired")
        if not any(q.if_yes == "emergency" for q in self.questions):
            raise ValueError("at least one red-flag question must lead to the emergency number")
        if "emergency number" not in self.emergency.split("\n")[0]:
            raise ValueError("the emergency reply must start with the local emergency number")
        return self

    def label(self, question_id: str) -> str:
        """The report label of a question, current or retired (its id if unknown)."""
        current = next((q.short for q in self.questions if q.id == question_id), None)
        return current or self.retired.get(question_id, question_id)

    def onset_label(self, onset: str) -> str:
        """How a "yes" came on, in the words of its button."""
        labels = {
            "sudden": self.onset_sudden_button,
            "slow": self.onset_slow_button,
            "unsure": self.onset_unsure_button,
        }
        return labels.get(onset, onset)

    def reply(self, outcome: str, answers: Mapping[str, bool]) -> str:
        """What the person reads at the end of the check, with the notes of their yes answers."""
        text = {
            "emergency": self.emergency,
            "urgent": self.see_doctor_urgent,
            "see_doctor": self.see_doctor,
            "clear": self.all_clear,
        }[outcome].rstrip("\n")
        notes = [q.yes_note for q in self.questions if q.yes_note and answers.get(q.id)]
        return "\n".join([text, *notes])


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
        if "local emergency number" not in self.resources[0].text:
            raise ValueError("the first crisis resource must be 'your local emergency number'")
        if "{resources}" not in self.reply:
            raise ValueError("crisis reply must have a {resources} placeholder")
        return self


class SafetyContent(_Strict):
    red_flags: RedFlagText
    persistence: PersistenceText
    crisis: CrisisText

    def cited_sources(self) -> set[str]:
        """Every source id the wording cites (checked against content/sources.yaml on load)."""
        fields = [self.red_flags.source, self.persistence.source, self.crisis.source]
        fields += [q.source for q in self.red_flags.questions]
        fields += [r.source for r in self.crisis.resources]
        return {sid for field in fields for sid in source_ids(field)}

    def flag_names(self) -> dict[str, str]:
        """Persistence flag id -> plain words."""
        return {
            "lasting": self.persistence.lasting,
            "several_places": self.persistence.several_places,
        }

    def gp_note(self, flags: list[str]) -> str:
        """The "please see a GP" note for these persistence flags."""
        names = self.flag_names()
        return self.persistence.message.format(what=" and ".join(names[f] for f in flags))

    def crisis_reply(self) -> str:
        return self.crisis.reply.format(resources="\n".join(r.text for r in self.crisis.resources))


def load_safety(path: Path | None = None, sources_path: Path | None = None) -> SafetyContent:
    """Load and validate content/safety.en.yaml and its sources; ContentError names the problem."""
    path = path or CONTENT_DIR / "safety.en.yaml"
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        content = SafetyContent.model_validate(raw)
        sources = load_sources(sources_path or CONTENT_DIR / "sources.yaml")
    except FileNotFoundError as exc:
        raise ContentError(f"content file missing: {path}") from exc
    except (yaml.YAMLError, ValidationError, ValueError) as exc:
        raise ContentError(f"{path}: {exc}") from exc
    missing = content.cited_sources() - set(sources)
    if missing:
        raise ContentError(f"{path}: unknown sources: {sorted(missing)}")
    return content


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, apostrophes removed, padded with spaces."""
    lowered = text.lower().replace("’", "").replace("'", "").replace("`", "")
    return f" {_NON_WORD.sub(' ', lowered).replace('_', ' ').strip()} "


def mentions_crisis(text: str, phrases: Iterable[str]) -> bool:
    """Whether any phrase occurs in the text as whole words (see module docstring)."""
    haystack = normalise(text)
    return any(normalise(phrase) in haystack for phrase in phrases if phrase.strip())


CheckStep = tuple[Literal["ask", "onset", "done"], int, Outcome | None]


def check_step(
    questions: Iterable[Question], answers: Mapping[str, bool], onsets: Mapping[str, str]
) -> CheckStep:
    """What the red-flag check does next, given the answers so far.

    ("ask", i, None): ask question i. ("onset", i, None): ask whether question i's "yes" came on
    suddenly. ("done", -1, outcome): stop and reply. An emergency stops the check at once; the
    outcome otherwise is the most serious of the answers (see the module docstring).
    """
    urgent = False
    for index, question in enumerate(questions):
        if question.id not in answers:
            return "ask", index, None
        if not answers[question.id]:
            continue
        if question.if_yes == "emergency":
            return "done", -1, "emergency"
        if question.if_yes == "ask_onset":
            onset = onsets.get(question.id)
            if onset is None:
                return "onset", index, None
            if onset != "slow":  # suddenly, or not sure: the safer reading
                return "done", -1, "emergency"
            urgent = True
    if urgent:
        return "done", -1, "urgent"
    return "done", -1, "see_doctor" if any(answers.values()) else "clear"


def red_flag_record(
    answers: Mapping[str, bool], onsets: Mapping[str, str], outcome: str, asked_at: datetime
) -> dict[str, Any]:
    """The "red_flags" table document (see the module docstring)."""
    clean = {qid: bool(value) for qid, value in answers.items()}
    return {
        "asked_at": asked_at.isoformat(),
        "answers": clean,
        "any_yes": any(clean.values()),
        "onsets": {qid: value for qid, value in onsets.items() if value in ONSETS},
        "outcome": outcome,
    }


def recheck_due(last_offered: datetime | None, now: datetime) -> bool:
    """Offer the check again once RECHECK_DAYS have passed since the last offer."""
    return last_offered is None or now - last_offered >= timedelta(days=RECHECK_DAYS)
