"""Small pure builders for keyboards."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, KeyboardButton, ReplyKeyboardMarkup

from bot.content import Content

MAIN_MENU_KEYS = ("menu.twitching_now", "menu.log_episode", "menu.tip", "menu.my_week")


def inline(rows: Iterable[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback_data) pairs -> an inline keyboard."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def chunk(items: Sequence[tuple[str, str]], per_row: int) -> list[list[tuple[str, str]]]:
    return [list(items[i : i + per_row]) for i in range(0, len(items), per_row)]


def main_menu(content: Content) -> ReplyKeyboardMarkup:
    """The persistent reply keyboard with the four main actions, two per row for thumbs."""
    labels = [content.t(key) for key in MAIN_MENU_KEYS]
    return ReplyKeyboardMarkup(
        [
            [KeyboardButton(labels[0]), KeyboardButton(labels[1])],
            [KeyboardButton(labels[2]), KeyboardButton(labels[3])],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def main_menu_labels(content: Content) -> dict[str, str]:
    """Shown label -> menu key, for routing a tap on the reply keyboard."""
    return {content.t(key): key for key in MAIN_MENU_KEYS}
