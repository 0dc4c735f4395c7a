"""Offline Telegram: a loopback Bot API server and fake users for tests, demo and benchmarks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.client import BotMessage, CallbackAnswer, FakeUser
    from bot.sandbox.server import ApiError, LoopbackBotAPI, UploadedFile

__all__ = ["ApiError", "BotMessage", "CallbackAnswer", "FakeUser", "LoopbackBotAPI", "UploadedFile"]

_HOMES = {
    "BotMessage": "client", "CallbackAnswer": "client", "FakeUser": "client",
    "ApiError": "server", "LoopbackBotAPI": "server", "UploadedFile": "server",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    # Lazy, so `python -m bot.sandbox.server` does not import the module twice.
    if name in _HOMES:
        from importlib import import_module

        return getattr(import_module(f"bot.sandbox.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'bot.sandbox' has no attribute {name!r}")
