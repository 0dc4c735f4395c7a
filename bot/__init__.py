"""Fibro Twitch Coach: a Telegram bot for people with fibromyalgia and muscle twitching."""

__version__ = "0.1.0"
