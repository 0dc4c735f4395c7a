"""Relief routines: their schema, which one to offer first, and the timing of holds and follow-ups.

Pure logic (no Telegram): the handlers in bot/telegram/relief.py call these functions.

Ranking rule (per person and body region)
-----------------------------------------
Each "how is the twitching now?" answer becomes a number::

    much_better = 1.0    a_bit_better = 2/3    same = 1/3    worse = 0.0

A routine's score for this person and region is a smoothed average that starts from a neutral
prior, so one answer cannot dominate::

    score = (sum of its answers + PRIOR_WEIGHT * PRIOR) / (number of answers + PRIOR_WEIGHT)

with PRIOR = 0.5 and PRIOR_WEIGHT = 2. One "much better" gives 0.67, two give 0.75, three 0.8;
one "worse" gives 0.33. A routine never answered for this region scores the prior, 0.5.
Routines are offered best score first; ties keep the content's default order (``default_rank``,
then id), so region-specific stretches come before general ones for someone new.

Exploration: once the person has any answer for the region, with probability EXPLORE (0.2) the
first routine they have no answer for yet (in default order) is moved to the front, so an
untried routine is still offered now and then instead of the same one forever. The random
source is injected (``rng``), so tests are deterministic.

"Your best so far" is the highest-scoring routine with at least one answer and a score above
the prior (it helped more than it didn't).

Timing
------
Every duration (holds, the lead-in before a hold, the follow-up delay) is multiplied by a time
scale (1.0 in production; tests use a small one instead of patching sleep). A follow-up whose
time passed while the bot was down is still sent if it is at most MAX_FOLLOWUP_LATENESS late
(unscaled: it is a policy about people, not a duration to wait), otherwise dropped silently.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.domain.sources import unknown_sources

# --------------------------------------------------------------------------- schema

ROUTINE_ID = r"^[a-z0-9_]{1,24}$"  # short enough to ride in a 64-byte button
MAX_TIMER_SECONDS = 20 * 60  # a cold pack: 15-20 minutes at most
MAX_HOLD_SECONDS = 60  # a stretch is held gently, never for minutes
MIN_ROUTINES_PER_REGION = 2
# What a timed step asks for, and so how the bot words it (content/messages/relief.en.yaml):
# "hold" a stretch ("hold the stretch for 30 s"), "breathe" gently ("keep this gentle rhythm
# going"), or "keep" doing something (warmth, massage, walking: "keep this going for 60 s").
# A breathing step is never a "hold": it must not read as "hold your breath".
TimerKind = Literal["hold", "breathe", "keep"]


class RoutineError(ValueError):
    """A routine file is invalid; the message names the file and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Step(_Strict):
    """One instruction; with ``seconds`` the bot moves on by itself when the time is up."""

    text: str = Field(min_length=1, max_length=400)
    seconds: int | None = Field(default=None, ge=5, le=MAX_TIMER_SECONDS)
    timer: TimerKind | None = None  # required with ``seconds``

    @model_validator(mode="after")
    def _timer_kind(self) -> Step:
        if (self.seconds is None) != (self.timer is None):
            raise ValueError("a timed step needs both seconds and timer (hold, breathe or keep)")
        if self.timer == "hold" and self.seconds is not None and self.seconds > MAX_HOLD_SECONDS:
            raise ValueError(f"a stretch is held for at most {MAX_HOLD_SECONDS} s")
        return self


class Routine(_Strict):
    """A short guided relief routine (content/relief/<id>.yaml)."""

    id: str = Field(pattern=ROUTINE_ID)
    title: str = Field(min_length=1, max_length=40)
    regions: tuple[str, ...] = Field(min_length=1)
    steps: tuple[Step, ...] = Field(min_length=1, max_length=8)
    safety: tuple[str, ...] = Field(min_length=1, max_length=3)
    # Where the health facts come from: ids in content/sources.yaml, comma-separated.
    source: str = Field(min_length=1)
    # Position before there is any evidence for this person (lower = offered earlier).
    default_rank: int = Field(default=50, ge=0, le=100)
    # A routine done standing or walking names one done sitting or lying, offered beside it.
    seated_alternative: str | None = Field(default=None, pattern=ROUTINE_ID)

    @field_validator("regions")
    @classmethod
    def _unique_regions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("duplicate regions")
        return value

    @field_validator("safety")
    @classmethod
    def _short_notes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not note.strip() or len(note) > 160 for note in value):
            raise ValueError("safety notes must be non-empty and at most 160 characters")
        return value


@dataclass(frozen=True)
class Library:
    """All routines, in default order."""

    routines: tuple[Routine, ...]

    def get(self, routine_id: str) -> Routine | None:
        return next((r for r in self.routines if r.id == routine_id), None)

    def for_region(self, region: str) -> list[Routine]:
        return [r for r in self.routines if region in r.regions]


def load_library(
    directory: Path, region_ids: Iterable[str], sources: Mapping[str, object]
) -> Library:
    """Load and check every ``*.yaml`` in ``directory``; raise RoutineError on the first problem.

    Checks: each file validates, its name is ``<id>.yaml``, ids are unique, every region a
    routine names exists, its sources are in ``sources`` (content/sources.yaml), a seated
    alternative exists and covers the routine's regions, and every region has at least
    MIN_ROUTINES_PER_REGION routines.
    """
    regions = list(region_ids)
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise RoutineError(f"no relief routines in {directory}")
    routines = []
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            routine = Routine.model_validate(raw)
        except (yaml.YAMLError, ValidationError) as exc:
            raise RoutineError(f"{path}: {exc}") from exc
        if routine.id != path.stem:
            raise RoutineError(f"{path}: id {routine.id!r} must match the file name")
        unknown = sorted(set(routine.regions) - set(regions))
        if unknown:
            raise RoutineError(f"{path}: unknown regions {unknown}")
        unknown = unknown_sources(routine.source, sources)
        if unknown:
            raise RoutineError(f"{path}: unknown source id(s) {unknown}")
        routines.append(routine)
    by_id = {r.id: r for r in routines}  # unique: each id is its file's name
    for routine in routines:
        if routine.seated_alternative is None:
            continue
        seated = by_id.get(routine.seated_alternative)
        if seated is None or not set(routine.regions) <= set(seated.regions):
            raise RoutineError(
                f"{directory / routine.id}.yaml: seated_alternative "
                f"{routine.seated_alternative!r} must exist and cover the same regions"
            )
    thin = [
        region
        for region in regions
        if sum(region in r.regions for r in routines) < MIN_ROUTINES_PER_REGION
    ]
    if thin:
        raise RoutineError(f"{directory}: regions with fewer than 2 routines: {thin}")
    routines.sort(key=lambda r: (r.default_rank, r.id))
    return Library(tuple(routines))


# --------------------------------------------------------------------------- ranking

Outcome = Literal["much_better", "a_bit_better", "same", "worse"]
OUTCOMES: tuple[Outcome, ...] = ("much_better", "a_bit_better", "same", "worse")
OUTCOME_VALUE: dict[str, float] = {
    "much_better": 1.0,
    "a_bit_better": 2 / 3,
    "same": 1 / 3,
    "worse": 0.0,
}
PRIOR = 0.5
PRIOR_WEIGHT = 2.0
EXPLORE = 0.2


@dataclass(frozen=True)
class Evidence:
    answers: int
    score: float


def evidence(routine_id: str, answers: Sequence[tuple[str, str]]) -> Evidence:
    """Smoothed score of one routine from (routine_id, outcome) answers for one region."""
    values = [OUTCOME_VALUE[o] for rid, o in answers if rid == routine_id and o in OUTCOME_VALUE]
    score = (sum(values) + PRIOR_WEIGHT * PRIOR) / (len(values) + PRIOR_WEIGHT)
    return Evidence(answers=len(values), score=score)


def rank(
    routines: Sequence[Routine],
    answers: Sequence[tuple[str, str]],
    rng: random.Random | None = None,
    explore: float = EXPLORE,
) -> list[Routine]:
    """Routines for one region in the order to offer them (see the module docstring).

    ``routines`` are the region's routines in default order; ``answers`` are this person's
    (routine_id, outcome) answers for this region.
    """
    order = {r.id: i for i, r in enumerate(routines)}
    scored = {r.id: evidence(r.id, answers) for r in routines}
    ranked = sorted(routines, key=lambda r: (-scored[r.id].score, order[r.id]))
    has_evidence = any(e.answers for e in scored.values())
    untried = [r for r in routines if scored[r.id].answers == 0]
    if has_evidence and untried and rng is not None and rng.random() < explore:
        pick = untried[0]
        ranked.remove(pick)
        ranked.insert(0, pick)
    return ranked


def best_so_far(routines: Sequence[Routine], answers: Sequence[tuple[str, str]]) -> Routine | None:
    """The routine that helped this person most in this region, once there is evidence."""
    best: tuple[float, Routine] | None = None
    for routine in routines:
        ev = evidence(routine.id, answers)
        if ev.answers and ev.score > PRIOR and (best is None or ev.score > best[0]):
            best = (ev.score, routine)
    return best[1] if best else None


# --------------------------------------------------------------------------- timing

LEAD_IN_SECONDS = 5  # time to get into position before a hold starts counting
DEFAULT_FOLLOWUP_MINUTES = 10
FOLLOWUP_MINUTES_CHOICES = (5, 10, 15, 20, 30)
MIN_FOLLOWUP_MINUTES, MAX_FOLLOWUP_MINUTES = 5, 30
MAX_FOLLOWUP_LATENESS = timedelta(hours=1)


def hold_delay(step: Step, scale: float) -> float | None:
    """Seconds until the bot moves on from this step by itself, or None if it waits for a tap."""
    if step.seconds is None:
        return None
    return (step.seconds + LEAD_IN_SECONDS) * scale


def timer_message(step: Step) -> tuple[str, dict[str, int]] | None:
    """The message key and values for a timed step's line, or None for an untimed step.

    Two minutes or more are shown in minutes; a hold is never that long.
    """
    if step.seconds is None or step.timer is None:
        return None
    if step.timer == "hold":
        return "relief.timer_hold", {"seconds": step.seconds}
    if step.seconds >= 120:
        return f"relief.timer_{step.timer}_minutes", {"minutes": step.seconds // 60}
    return f"relief.timer_{step.timer}", {"seconds": step.seconds}


def timer_done_message(step: Step) -> str:
    """The message key for the line that says a step's time is up (sent as a new message)."""
    return f"relief.timer_done_{step.timer or 'keep'}"


def followup_minutes(profile: dict[str, object] | None) -> int:
    """The person's follow-up delay setting, clamped to 5-30 minutes (default 10)."""
    raw = (profile or {}).get("relief_followup_minutes", DEFAULT_FOLLOWUP_MINUTES)
    if not isinstance(raw, int) or isinstance(raw, bool):
        return DEFAULT_FOLLOWUP_MINUTES
    return max(MIN_FOLLOWUP_MINUTES, min(MAX_FOLLOWUP_MINUTES, raw))


def followup_due(ended_at: datetime, minutes: int, scale: float) -> datetime:
    return ended_at + timedelta(seconds=minutes * 60 * scale)


FollowupAction = Literal["wait", "send", "drop"]


def followup_action(due: datetime, now: datetime) -> tuple[FollowupAction, float]:
    """What to do with a pending follow-up now: wait N seconds, send it, or drop it (too late)."""
    if now < due:
        return "wait", (due - now).total_seconds()
    if now - due <= MAX_FOLLOWUP_LATENESS:
        return "send", 0.0
    return "drop", 0.0


def next_step(current: int, total: int) -> int | None:
    """Index of the step after ``current``, or None when the routine is complete."""
    return current + 1 if current + 1 < total else None
