"""The daily diary, pure rules: which local date an answer is for, the day record, day factors
(built-in and the person's own), and when the evening push should step back.

No Telegram, no storage: functions take plain documents (dicts) and an explicit "now".

The day record, one document per answered local date in the per-user table ``DAYS_TABLE``:

    date         local "YYYY-MM-DD" the answer is for (see ``diary_date``).
    rating       0-3 on the ordered scale RATINGS: none, a little, moderate, a lot (the day's
                 *overall* twitching; end-of-day overall ratings track momentary ones well,
                 "worst moment" recall does not).
    factors      ids of the day factors the person ticked (built-in vocabulary ids, or
                 ``own_<id>`` for their own factors), in the order they were shown.
    offered      ids of the factors shown with the day: a factor counts for a day only if it
                 was offered, so a factor added later never makes older days look "without".
    answered_at  when the day was first answered (ISO UTC); a late answer is data, not a lie.
    updated_at   when it was last changed.
    tz           the person's zone when answering.

Own factors live in ``FACTORS_TABLE``: ``{name, position, archived, created_at, archived_at}``.
Archiving hides a factor from the diary and keeps every past answer.

"Between 00:00 and 03:00 local, answering is for yesterday": someone who opens the diary at
01:30 is still closing the day that just ended.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from bot.domain.zones import zone

DAYS_TABLE = "diary_days"
FACTORS_TABLE = "diary_factors"
RATINGS = ("none", "a_little", "moderate", "a_lot")  # index = stored value, an ordered scale
MAX_RATING = len(RATINGS) - 1
TWITCHING_FROM = 1  # "a little" or more: a day with twitching
LATE_NIGHT_END = time(3, 0)  # before this, answering is for the day before
DEFAULT_TIME = "20:00"
MAX_OWN_FACTORS = 8  # active own factors
MAX_FACTOR_CHARS = 30
MAX_VISIBLE_FACTORS = 8  # toggles under the diary; adherence drops with longer questionnaires
ROW_DAYS = 7  # /diary shows the last week
UNANSWERED_LIMIT = 7  # evenings in a row without an answer before asking whether it still suits
OWN_PREFIX = "own_"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")


def diary_date(now: datetime, zone_name: str) -> date:
    """The local date an answer given at ``now`` is for (yesterday before 03:00)."""
    local = now.astimezone(zone(zone_name))
    if local.time() < LATE_NIGHT_END:
        return local.date() - timedelta(days=1)
    return local.date()


def is_late_night(now: datetime, zone_name: str) -> bool:
    return now.astimezone(zone(zone_name)).time() < LATE_NIGHT_END


def row_dates(now: datetime, zone_name: str, days: int = ROW_DAYS) -> list[date]:
    """The dates /diary offers, oldest first, ending with the current diary date."""
    last = diary_date(now, zone_name)
    return [last - timedelta(days=offset) for offset in range(days - 1, -1, -1)]


def answerable(day: date, now: datetime, zone_name: str, days: int = ROW_DAYS) -> bool:
    """Whether a button may still record ``day``: not in the future, not older than the row."""
    last = diary_date(now, zone_name)
    return last - timedelta(days=days - 1) <= day <= last


def parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def valid_rating(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_RATING


# ---------------------------------------------------------------------------- day records


def find_day(days: Iterable[dict[str, Any]], day: date) -> dict[str, Any] | None:
    key = day.isoformat()
    return next((d for d in days if d.get("date") == key), None)


def new_day(
    day: date, rating: int, now: datetime, zone_name: str, offered: Sequence[str]
) -> dict[str, Any]:
    if not valid_rating(rating):
        raise ValueError(f"rating must be 0-{MAX_RATING}")
    stamp = now.isoformat()
    return {
        "date": day.isoformat(),
        "rating": rating,
        "factors": [],
        "offered": list(offered),
        "answered_at": stamp,
        "updated_at": stamp,
        "tz": zone_name,
    }


def set_factor(record: dict[str, Any], factor_id: str, on: bool, order: Sequence[str]) -> dict:
    """The changes that tick (``on``) or untick one factor of a day; {} if nothing changes.

    Setting rather than flipping makes a double tap or an old message harmless."""
    factors = list(record.get("factors") or [])
    offered = list(record.get("offered") or [])
    if (factor_id in factors) == on and factor_id in offered:
        return {}
    chosen = set(factors) | {factor_id} if on else set(factors) - {factor_id}
    rank = {fid: i for i, fid in enumerate(order)}
    changes: dict[str, Any] = {
        "factors": sorted(chosen, key=lambda f: (rank.get(f, len(rank)), f)),
    }
    if factor_id not in offered:
        changes["offered"] = [*offered, factor_id]
    return changes


def recorded_this_month(days: Iterable[dict[str, Any]], today: date) -> int:
    """Days recorded in ``today``'s calendar month: shown instead of a streak."""
    prefix = today.strftime("%Y-%m-")
    return sum(1 for d in days if str(d.get("date", "")).startswith(prefix))


# ---------------------------------------------------------------------------- factors


@dataclass(frozen=True)
class Factor:
    """A yes/no day factor as shown: a built-in one (vocabulary id) or the person's own."""

    id: str
    label: str
    own: bool = False
    lag: bool = False  # also compared with the *next* day (sleep)


def own_factor_id(doc_id: int) -> str:
    return f"{OWN_PREFIX}{doc_id}"


def own_doc_id(factor_id: str) -> int | None:
    raw = factor_id.removeprefix(OWN_PREFIX)
    if not factor_id.startswith(OWN_PREFIX) or not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw)


def active_own(docs: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The person's own factors that are not archived, in their chosen order."""
    live = [d for d in docs if not d.get("archived")]
    return sorted(live, key=lambda d: (d.get("position", 0), d.get("id", 0)))


def all_factors(builtin: Sequence[Factor], own_docs: Iterable[dict[str, Any]]) -> dict[str, str]:
    """id -> label for every factor a past day may name, archived ones included."""
    labels = {f.id: f.label for f in builtin}
    for doc in own_docs:
        labels[own_factor_id(doc["id"])] = str(doc.get("name", ""))
    return labels


def visible_factors(
    builtin: Sequence[Factor], own_docs: Iterable[dict[str, Any]], hidden: Iterable[str] = ()
) -> list[Factor]:
    """The toggles under the diary: the person's own factors first (their words, their order),
    then the built-in ones they have not hidden; at most MAX_VISIBLE_FACTORS."""
    own = [Factor(own_factor_id(d["id"]), str(d["name"]), own=True) for d in active_own(own_docs)]
    hidden_ids = set(hidden)
    shown = own + [f for f in builtin if f.id not in hidden_ids]
    return shown[:MAX_VISIBLE_FACTORS]


def clean_factor_name(text: str) -> str:
    """Control and invisible formatting characters removed, whitespace collapsed and trimmed."""
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def factor_name_problem(
    name: str, own_docs: Iterable[dict[str, Any]], builtin: Sequence[Factor], *, renaming: int = 0
) -> str | None:
    """Why a (cleaned) name can't be used: "empty", "too_long", "duplicate", "too_many"; or None.

    Duplicates are refused case-insensitively against the person's active factors and the
    built-in ones; ``renaming`` is the doc id being renamed (it may keep its own name)."""
    if not name:
        return "empty"
    if len(name) > MAX_FACTOR_CHARS:
        return "too_long"
    live = active_own(own_docs)
    folded = name.casefold()
    taken = {str(d.get("name", "")).casefold() for d in live if d.get("id") != renaming}
    taken |= {f.label.casefold() for f in builtin}
    if folded in taken:
        return "duplicate"
    if not renaming and len(live) >= MAX_OWN_FACTORS:
        return "too_many"
    return None


def next_position(own_docs: Iterable[dict[str, Any]]) -> int:
    return max((int(d.get("position", 0)) for d in own_docs), default=-1) + 1


def move_up(own_docs: Iterable[dict[str, Any]], doc_id: int) -> dict[int, int]:
    """New positions ({doc id: position}) after moving one active own factor up by one."""
    order = [d["id"] for d in active_own(own_docs)]
    if doc_id not in order:
        return {}
    index = order.index(doc_id)
    if index > 0:
        order[index - 1], order[index] = order[index], order[index - 1]
    return {fid: position for position, fid in enumerate(order)}


# ---------------------------------------------------------------------------- the evening push


def push_outcome(
    profile: dict[str, Any], days: Iterable[dict[str, Any]], day: date
) -> tuple[str, dict[str, Any]]:
    """What this evening's push should be, and the profile changes to store with its claim.

    "diary": send the diary for ``day``; "recorded": already answered today, send nothing;
    "ask_fit": UNANSWERED_LIMIT evenings in a row went unanswered, ask once whether the time
    still suits (and from then on stay quiet, ``diary_quiet``, until they answer or change it);
    "quiet": we already asked, send nothing.

    ``diary_unanswered`` counts the pushed evenings in a row whose day is still unrecorded,
    judged when the next push comes (so answering the day after from /diary still counts)."""
    if profile.get("diary_quiet"):
        return "quiet", {}
    recorded = {str(d.get("date")) for d in days}
    if day.isoformat() in recorded:
        return "recorded", {"diary_last_push": day.isoformat()}
    previous = profile.get("diary_last_push")
    streak = int(profile.get("diary_unanswered") or 0)
    if isinstance(previous, str) and previous != day.isoformat():
        streak = 0 if previous in recorded else streak + 1
    changes: dict[str, Any] = {"diary_unanswered": streak, "diary_last_push": day.isoformat()}
    if streak >= UNANSWERED_LIMIT:
        return "ask_fit", {**changes, "diary_quiet": True}
    return "diary", changes


ANSWERED = {"diary_unanswered": 0, "diary_quiet": False}  # profile changes when a day is answered
