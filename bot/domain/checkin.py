"""Check-in rules, free of Telegram: the episode record, validation, the "same as last time"
shortcut, stamping past episodes, and grouping history by the user's local day.

The handlers in bot/telegram/checkin.py keep a *draft* (a plain dict in store state "checkin")
while the user taps through the steps, and turn it into an :class:`Episode` with
:func:`build_episode` when they save.
"""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal, TypedDict

from bot.domain.zones import zone

TABLE = "episodes"
MAX_NOTE = 500
MAX_INTENSITY = 10
HISTORY_DAYS = 14
SOURCES = ("checkin", "shortcut", "relief")

Source = Literal["checkin", "shortcut", "relief"]


class Episode(TypedDict):
    """One logged twitching episode, a document of the per-user table "episodes".

    This is a shared contract: insights, the doctor report and the export read it. Instants are
    ISO-8601 strings in UTC.

    started_at  when the episode happened (when the check-in was started, or the chosen past
                time for "earlier today"/"yesterday"); a check-in that crosses midnight belongs
                to the day it started.
    tz          the user's IANA time zone at that moment, so the local day never shifts later.
    intensity   0-10 numeric rating scale, 0 = none, 10 = worst imaginable.
    regions     body region ids from content/vocabulary.en.yaml "regions" (at least one).
    duration    a duration id from the vocabulary "durations", or None (not asked, e.g. relief).
    triggers    trigger ids from the vocabulary "triggers" (may be empty).
    tried       relief routine ids tried for this episode (may be empty).
    note        the user's own words, at most MAX_NOTE characters, or None.
    source      "checkin" (the full flow), "shortcut" ("same as last time") or "relief"
                (started from the offer at the end of a relief routine).
    created_at  when it was saved.
    updated_at  when it was last saved or edited.
    """

    started_at: str
    tz: str
    intensity: int
    regions: list[str]
    duration: str | None
    triggers: list[str]
    tried: list[str]
    note: str | None
    source: Source
    created_at: str
    updated_at: str


class InvalidEpisode(ValueError):
    """A draft or record that breaks the episode contract."""


@dataclass(frozen=True)
class Choices:
    """The ids a user may pick (from the vocabulary); kept apart so the rules stay pure."""

    regions: tuple[str, ...]
    durations: tuple[str, ...]
    triggers: tuple[str, ...]


# ---------------------------------------------------------------------- validation


def validate_episode(episode: dict[str, Any], choices: Choices) -> None:
    """Raise InvalidEpisode naming the first field that breaks the contract."""
    intensity = episode.get("intensity")
    if type(intensity) is not int or not 0 <= intensity <= MAX_INTENSITY:
        raise InvalidEpisode("intensity must be an integer 0-10")
    regions = episode.get("regions")
    if not isinstance(regions, list) or not regions:
        raise InvalidEpisode("at least one region")
    if not set(regions) <= set(choices.regions) or len(set(regions)) != len(regions):
        raise InvalidEpisode("unknown or repeated region")
    duration = episode.get("duration")
    if duration is not None and duration not in choices.durations:
        raise InvalidEpisode("unknown duration")
    triggers = episode.get("triggers")
    if not isinstance(triggers, list) or not set(triggers) <= set(choices.triggers):
        raise InvalidEpisode("unknown trigger")
    if len(set(triggers)) != len(triggers):
        raise InvalidEpisode("repeated trigger")
    tried = episode.get("tried")
    if not isinstance(tried, list) or not all(isinstance(t, str) and t for t in tried):
        raise InvalidEpisode("tried must be a list of routine ids")
    note = episode.get("note")
    if note is not None and (not isinstance(note, str) or not note or len(note) > MAX_NOTE):
        raise InvalidEpisode("note must be 1-500 characters or None")
    if episode.get("source") not in SOURCES:
        raise InvalidEpisode("unknown source")
    try:
        zone(str(episode.get("tz")))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidEpisode("unknown time zone") from exc
    for key in ("started_at", "created_at", "updated_at"):
        try:
            parsed = datetime.fromisoformat(str(episode.get(key)))
        except ValueError as exc:
            raise InvalidEpisode(f"{key} is not an ISO time") from exc
        if parsed.utcoffset() != timedelta(0):
            raise InvalidEpisode(f"{key} must be in UTC")


class NoteProblem(ValueError):
    """Why a typed note cannot be kept; ``length`` is set when it was too long."""

    def __init__(self, reason: str, length: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.length = length


def clean_note(text: str) -> str:
    """Trim a typed note; NoteProblem("empty") or NoteProblem("too_long", length)."""
    note = text.strip()
    if not note:
        raise NoteProblem("empty")
    if len(note) > MAX_NOTE:
        raise NoteProblem("too_long", len(note))
    return note


def toggle(selected: Sequence[str], choice: str, order: Sequence[str]) -> list[str]:
    """Tick or untick ``choice``; the result keeps the vocabulary's order (stable summaries)."""
    if choice not in order:
        raise InvalidEpisode("unknown choice")
    chosen = set(selected) ^ {choice}
    return [c for c in order if c in chosen]


# ---------------------------------------------------------------------- drafts


def new_nonce() -> str:
    """A short random token carried by every button of one draft: buttons of older drafts fail."""
    return secrets.token_urlsafe(4)[:6]


def new_draft(now: datetime, tz: str, **fields: Any) -> dict[str, Any]:
    """A fresh check-in draft, stamped now (the moment the user started it)."""
    draft: dict[str, Any] = {
        "nonce": new_nonce(),
        "step": "intensity",
        "intensity": None,
        "regions": [],
        "duration": None,
        "triggers": [],
        "note": None,
        "tried": [],
        "source": "checkin",
        "started_at": to_iso(now),
        "tz": tz,
        "message_id": None,
    }
    draft.update(fields)
    return draft


def build_episode(draft: dict[str, Any], now: datetime, choices: Choices) -> Episode:
    """The record to store from a finished draft; raises InvalidEpisode if anything is off."""
    episode = Episode(
        started_at=draft["started_at"],
        tz=draft["tz"],
        intensity=draft["intensity"],
        regions=list(draft["regions"]),
        duration=draft["duration"],
        triggers=list(draft["triggers"]),
        tried=list(draft.get("tried") or []),
        note=draft.get("note"),
        source=draft.get("source", "checkin"),
        created_at=to_iso(now),
        updated_at=to_iso(now),
    )
    validate_episode(dict(episode), choices)
    return episode


def last_episode(episodes: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """The most recent episode by when it happened (ties: the one saved last)."""
    return max(episodes, key=lambda e: (e["started_at"], e.get("created_at", "")), default=None)


def shortcut_fields(previous: dict[str, Any] | None, choices: Choices) -> dict[str, Any] | None:
    """ "Same as last time": the previous episode's regions, duration and triggers, or None.

    Ids the vocabulary no longer has are dropped; if no region is left there is nothing to copy.
    """
    if previous is None:
        return None
    regions = [r for r in previous.get("regions", []) if r in choices.regions]
    if not regions:
        return None
    duration = previous.get("duration")
    return {
        "regions": regions,
        "duration": duration if duration in choices.durations else None,
        "triggers": [t for t in previous.get("triggers", []) if t in choices.triggers],
    }


def stamp(episode: dict[str, Any]) -> str:
    """A short fingerprint of an episode for its buttons. Store ids can be reused after a
    delete, so a button also names the created_at it was made for."""
    created = datetime.fromisoformat(episode["created_at"])
    return format(int(created.timestamp() * 1000) % 36**6, "x")


# ---------------------------------------------------------------------- time

# "Earlier today" / "yesterday": parts of the day and the local clock time we stamp for them.
DAY_PARTS: dict[str, time] = {
    "morning": time(9, 0),
    "afternoon": time(14, 0),
    "evening": time(19, 0),
    "night": time(23, 0),
}


def to_iso(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="seconds")


def parse_instant(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def local_time(value: str, tz: str) -> datetime:
    """A stored UTC instant on the wall clock of ``tz``."""
    return parse_instant(value).astimezone(zone(tz))


def past_start(now: datetime, tz: str, days_ago: int, part: str) -> datetime | None:
    """The UTC instant for "<part> today" (days_ago=0) or "<part> yesterday" (1).

    None when that moment is still in the future or the part is unknown. Local clock times that
    a DST change skips or repeats resolve like zoneinfo does (the earlier offset).
    """
    if part not in DAY_PARTS or days_ago not in (0, 1):
        return None
    local_zone = zone(tz)
    day = now.astimezone(local_zone).date() - timedelta(days=days_ago)
    instant = datetime.combine(day, DAY_PARTS[part], tzinfo=local_zone).astimezone(UTC)
    return instant if instant <= now else None


def available_parts(now: datetime, tz: str, days_ago: int) -> list[str]:
    """The parts of today already begun (all of them for yesterday)."""
    return [p for p in DAY_PARTS if past_start(now, tz, days_ago, p) is not None]


def relative_day(value: str, tz: str, now: datetime) -> str:
    """'today', 'yesterday' or 'earlier' for a stored instant, on the user's local calendar."""
    local_zone = zone(tz)
    day = parse_instant(value).astimezone(local_zone).date()
    today = now.astimezone(local_zone).date()
    if day == today:
        return "today"
    if day == today - timedelta(days=1):
        return "yesterday"
    return "earlier"


# ---------------------------------------------------------------------- history


@dataclass(frozen=True)
class DayGroup:
    day: date
    relative: str  # "today" | "yesterday" | "earlier"
    episodes: list[dict[str, Any]]  # newest first


def group_by_local_day(
    episodes: Iterable[dict[str, Any]], now: datetime, tz: str, days: int = HISTORY_DAYS
) -> list[DayGroup]:
    """The last ``days`` local days (today included) of episodes, newest day first.

    Each episode falls on the day of its own wall clock (its stored zone), so a change of zone
    or of daylight-saving time never moves a past episode to another day. The window is counted
    in the user's current zone.
    """
    local_zone = zone(tz)
    today = now.astimezone(local_zone).date()
    first = today - timedelta(days=days - 1)
    by_day: dict[date, list[dict[str, Any]]] = {}
    for episode in episodes:
        day = local_time(episode["started_at"], episode.get("tz") or tz).date()
        if first <= day <= today:
            by_day.setdefault(day, []).append(episode)
    groups = []
    for day in sorted(by_day, reverse=True):
        items = sorted(
            by_day[day], key=lambda e: (e["started_at"], e.get("created_at", "")), reverse=True
        )
        rel = "today" if day == today else "yesterday" if day == today - timedelta(1) else "earlier"
        groups.append(DayGroup(day, rel, items))
    return groups


def labels_for(ids: Iterable[str], choices: Iterable[Any]) -> list[str]:
    """Vocabulary labels for stored ids (the id itself if the vocabulary dropped it)."""
    by_id = {c.id: c.label for c in choices}
    return [by_id.get(i, i) for i in ids]


@dataclass(frozen=True)
class EpisodeView:
    """What a summary line shows, with labels resolved; words around it come from content."""

    local: datetime
    relative: str  # "today" | "yesterday" | "earlier"
    intensity: int
    regions: list[str]
    duration: str | None
    triggers: list[str]
    note: str | None

    @property
    def details(self) -> str:
        """Regions · duration · triggers, skipping what is empty."""
        parts = [", ".join(self.regions)]
        if self.duration:
            parts.append(self.duration)
        if self.triggers:
            parts.append(", ".join(self.triggers))
        return " · ".join(parts)


def view(episode: dict[str, Any], vocabulary: Any, now: datetime) -> EpisodeView:
    """Resolve an episode (or a draft) for display on its own local clock."""
    duration = episode.get("duration")
    return EpisodeView(
        local=local_time(episode["started_at"], episode["tz"]),
        relative=relative_day(episode["started_at"], episode["tz"], now),
        intensity=int(episode.get("intensity") or 0),
        regions=labels_for(episode.get("regions", []), vocabulary.regions),
        duration=labels_for([duration], vocabulary.durations)[0] if duration else None,
        triggers=labels_for(episode.get("triggers", []), vocabulary.triggers),
        note=episode.get("note"),
    )


def choices_of(vocabulary: Any) -> Choices:
    return Choices(
        regions=tuple(c.id for c in vocabulary.regions),
        durations=tuple(c.id for c in vocabulary.durations),
        triggers=tuple(c.id for c in vocabulary.triggers),
    )
