"""The daily diary: one tap in the evening records the day, so calm days count too.

* ``day``: the diary message (rating, day factors, Done) and /diary (the last 7 days);
* ``factors``: /factors, the person's own day factors;
* ``reminder``: the evening check's settings and the onboarding offer's pieces;
* ``push``: the evening check as a kind of the one push scheduler (``bot.pushes``).

Routes: dy.* the diary message and row, df.* own factors, ds.* evening-check settings.
Tables: ``diary_days`` and ``diary_factors`` (see bot/domain/diary.py).
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.callbacks import feature_pattern
from bot.telegram.context import Services
from bot.telegram.diary import day, factors, push, reminder


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = app.bot_data["services"]
    services.text_inputs[factors.ADD_INPUT] = factors.on_factor_text
    services.text_inputs[factors.RENAME_INPUT] = factors.on_factor_text
    services.text_inputs[reminder.TIME_INPUT] = reminder.on_time_text
    services.pushes.register(push.diary_kind(services))
    app.add_handler(CommandHandler("diary", day.diary_command))
    app.add_handler(CommandHandler("factors", factors.send_factors_panel))
    app.add_handler(CallbackQueryHandler(day.on_day_button, pattern=feature_pattern("dy")))
    app.add_handler(CallbackQueryHandler(factors.on_factors_button, pattern=feature_pattern("df")))
    app.add_handler(
        CallbackQueryHandler(reminder.on_reminder_button, pattern=feature_pattern("ds"))
    )
