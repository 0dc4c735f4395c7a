"""Small helpers the insight features share: table names, the person's zone, routine names."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.content import Content

EPISODES, RUNS, RED_FLAGS = "episodes", "relief_runs", "red_flags"


def zone_of(profile: dict[str, Any] | None) -> str:
    return (profile or {}).get("tz") or "UTC"


def routine_name(content: Content, routine_id: str) -> str:
    """A routine's title from content (a retired routine's id, made readable)."""
    routine = content.relief.get(routine_id)
    return routine.title if routine else routine_id.replace("_", " ").capitalize()


def day_label(day: date) -> str:
    return day.strftime("%a %d %b")
