"""Telegram glue: handlers, keyboards, the callback-data codec. Domain logic is in bot.domain."""
