"""Insight, safety and data ownership, one module per feature:

* ``week``: /week and "My week", the Sunday-summary opt-in;
* ``report``: /report, the clinician PDF;
* ``redflags``: the red-flag check (/safetycheck);
* ``mydata``: /export, /forget, /privacy;
* ``evening``: the proactive evening messages (Sunday summary, GP note, red-flag re-check) as
  push kinds of the one push scheduler (`bot.pushes`).

Routes: wk.* weekly opt-in, rp.* report period, rf.* red-flag check, fg.* delete confirmation.
"""

from __future__ import annotations

from typing import Any

from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.telegram.callbacks import feature_pattern
from bot.telegram.context import Services
from bot.telegram.insights import evening, mydata, redflags, report, week
from bot.telegram.insights.mydata import episodes_csv
from bot.telegram.insights.redflags import offer_red_flag_check
from bot.telegram.safety import safety_content

__all__ = ["episodes_csv", "offer_red_flag_check", "register"]


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services: Services = app.bot_data["services"]
    safety_content()  # validated at start: a content mistake stops the bot here
    services.menu_actions["menu.my_week"] = week.week_command
    evening.register(services)
    app.add_handler(CommandHandler("week", week.week_command))
    app.add_handler(CommandHandler("report", report.report_command))
    app.add_handler(CommandHandler("export", mydata.export_command))
    app.add_handler(CommandHandler("forget", mydata.forget_command))
    app.add_handler(CommandHandler("privacy", mydata.privacy_command))
    app.add_handler(CommandHandler("safetycheck", redflags.offer_red_flag_check))
    app.add_handler(CallbackQueryHandler(week.on_weekly_toggle, pattern=feature_pattern("wk")))
    app.add_handler(CallbackQueryHandler(report.on_report_period, pattern=feature_pattern("rp")))
    app.add_handler(CallbackQueryHandler(redflags.on_red_flag, pattern=feature_pattern("rf")))
    app.add_handler(CallbackQueryHandler(mydata.on_forget, pattern=feature_pattern("fg")))
