"""Fibro Twitch Coach: a Telegram bot for people with fibromyalgia and muscle twitching."""

__version__ = "0.1.0"

import os

# Opt in to python-telegram-bot's coming behaviour (RetryAfter.retry_after as a timedelta) now,
# instead of a deprecation warning on every rate-limit retry.
os.environ.setdefault("PTB_TIMEDELTA", "1")
