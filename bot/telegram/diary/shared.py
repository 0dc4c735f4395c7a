"""Pieces the diary's handlers share: built-in factors from content, day tokens for buttons."""

from __future__ import annotations

from datetime import date

from bot.content import Content
from bot.domain.diary import Factor
from bot.telegram.callbacks import BadCallback, Callback


def builtin_factors(content: Content) -> list[Factor]:
    return [Factor(c.id, c.label, lag=c.lag) for c in content.vocabulary.day_factors]


def rating_label(content: Content, rating: int) -> str:
    return content.vocabulary.day_ratings[rating].label


def day_token(day: date) -> str:
    return day.strftime("%Y%m%d")


def day_arg(callback: Callback, index: int = 0) -> date:
    """A day from button data ("20260610"), or BadCallback."""
    raw = callback.arg(index)
    if len(raw) != 8 or not raw.isdigit():
        raise BadCallback("not a day")
    try:
        return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
    except ValueError:
        raise BadCallback("not a day") from None
