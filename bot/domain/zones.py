"""Understanding what people type as a time zone: an IANA name, a city, or a UTC offset."""

from __future__ import annotations

import re
import zoneinfo
from datetime import datetime, time
from functools import cache, lru_cache

_OFFSET = re.compile(r"^(?:utc|gmt)?\s*([+-])\s*(\d{1,2})(?:[:.h]?(\d{2}))?$", re.IGNORECASE)
# IANA has whole-hour fixed zones only (Etc/GMT-5 is UTC+5, the sign is inverted); for the
# half- and quarter-hour offsets we use the best-known place that keeps that offset.
_PLACE_FOR_OFFSET = {
    "+03:30": "Asia/Tehran",
    "+04:30": "Asia/Kabul",
    "+05:30": "Asia/Kolkata",
    "+05:45": "Asia/Kathmandu",
    "+06:30": "Asia/Yangon",
    "+08:45": "Australia/Eucla",
    "+09:30": "Australia/Darwin",
    "+10:30": "Australia/Lord_Howe",
    "+12:45": "Pacific/Chatham",
    "-03:30": "America/St_Johns",
    "-09:30": "Pacific/Marquesas",
}


@cache
def _zones_by_folded_name() -> dict[str, str]:
    """'europe/berlin' -> 'Europe/Berlin' and 'new york' -> 'America/New_York' (first wins)."""
    by_name: dict[str, str] = {}
    for name in sorted(zoneinfo.available_timezones()):
        if name.startswith(("Etc/", "SystemV/")) or name in {"Factory", "localtime"}:
            continue
        by_name.setdefault(name.lower(), name)
        if "/" in name:
            city = name.rsplit("/", 1)[1].replace("_", " ").lower()
            by_name.setdefault(city, name)
    return by_name


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """A time zone by IANA name. Cached: ZoneInfo keeps only 8 zones strongly, fewer than one
    zone keyboard shows, and reloading tzdata on every render showed up in the benchmarks."""
    return zoneinfo.ZoneInfo(name)


def is_valid_zone(name: str) -> bool:
    try:
        zone(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def resolve_zone(text: str, cities: dict[str, str] | None = None) -> str | None:
    """An IANA zone name for what the person typed, or None if we cannot tell."""
    raw = " ".join(text.strip().split())
    if not raw or len(raw) > 64:
        return None
    folded = raw.lower().replace("_", " ") if "/" not in raw else raw.lower()
    if folded in {"utc", "gmt", "z"}:
        return "UTC"
    if cities and folded in cities:
        return cities[folded]
    match = _OFFSET.match(raw)
    if match:
        return _zone_for_offset(match.group(1), int(match.group(2)), int(match.group(3) or 0))
    return _zones_by_folded_name().get(folded) or _zones_by_folded_name().get(raw.lower())


def _zone_for_offset(sign: str, hours: int, minutes: int) -> str | None:
    if hours > 14 or minutes >= 60:
        return None
    if minutes == 0:
        if hours == 0:
            return "UTC"
        # Etc/GMT zones use the POSIX sign convention: Etc/GMT-2 is two hours *ahead* of UTC.
        return f"Etc/GMT{'-' if sign == '+' else '+'}{hours}"
    return _PLACE_FOR_OFFSET.get(f"{sign}{hours:02d}:{minutes:02d}")


def zone_label(name: str) -> str:
    """A friendly name: 'Europe/Berlin' -> 'Berlin', 'Etc/GMT-2' -> 'UTC+2'."""
    if name.startswith("Etc/GMT"):
        offset = name.removeprefix("Etc/GMT")
        return (
            "UTC" if offset in {"", "0"} else f"UTC{'-' if offset[0] == '+' else '+'}{offset[1:]}"
        )
    return name.rsplit("/", 1)[-1].replace("_", " ")


def local_now(instant: datetime, zone_name: str) -> datetime:
    return instant.astimezone(zone(zone_name))


_TIME = re.compile(r"^([01]?\d|2[0-3])[:.h]([0-5]\d)$")


def parse_clock_time(text: str) -> time | None:
    """'8:30', '08:30', '20.15' -> a time; anything else -> None. 24-hour clock only."""
    match = _TIME.match(text.strip())
    if not match:
        return None
    return time(int(match.group(1)), int(match.group(2)))


def format_clock_time(value: time) -> str:
    return f"{value.hour:02d}:{value.minute:02d}"
