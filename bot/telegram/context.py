"""What every handler can reach: the store, content, clock and codec, through a typed context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.clock import Clock
from bot.config import Settings
from bot.content import Content
from bot.pushes import PushScheduler
from bot.storage import Store
from bot.telegram.callbacks import CallbackCodec

# A feature's handler for free text it asked for (a note, a city...): (update, ctx, text, state).
TextInputHandler = Callable[[Update, "CoachContext", str, dict[str, Any]], Awaitable[None]]
# A feature's handler for a main-menu button.
MenuHandler = Callable[[Update, "CoachContext"], Awaitable[None]]
# What /cancel does for a feature: (user_id, ctx) -> whether something was in progress.
CancelHook = Callable[[int, "CoachContext"], Awaitable[bool]]
# Work to do once the bot is connected (rebuilding timers from the store, say), and after it
# stopped taking updates, before the store closes (shutdown).
StartupHook = Callable[[Application[Any, Any, Any, Any, Any, Any]], Awaitable[None]]


@dataclass
class Services:
    settings: Settings
    store: Store
    content: Content
    clock: Clock
    codec: CallbackCodec
    pushes: PushScheduler  # every daily push; features register their kinds with it
    # Filled by the features as they register: which free-text prompt and menu button go where.
    text_inputs: dict[str, TextInputHandler] = field(default_factory=dict)
    menu_actions: dict[str, MenuHandler] = field(default_factory=dict)
    cancel_hooks: list[CancelHook] = field(default_factory=list)
    startup_hooks: list[StartupHook] = field(default_factory=list)
    shutdown_hooks: list[StartupHook] = field(default_factory=list)


class CoachContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with typed shortcuts to the services."""

    @property
    def services(self) -> Services:
        return self.bot_data["services"]

    @property
    def store(self) -> Store:
        return self.services.store

    @property
    def content(self) -> Content:
        return self.services.content

    def t(self, key: str, **values: Any) -> str:
        return self.services.content.t(key, **values)

    def button(self, user_id: int, route: str, *args: str | int) -> str:
        """Signed callback data for one inline button."""
        return self.services.codec.encode(user_id, route, *args)


def services_of(app: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    return app.bot_data["services"]
