"""Process different users' updates concurrently, but each user's updates strictly in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

_STRIPES = 1024


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """PTB's default runs one update at a time for everyone; `concurrent_updates=True` would let
    two quick taps of one person race through a flow. Here one slow user never holds up others,
    and one person's taps are applied in the order they were made."""

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        # A fixed set of lock stripes keeps memory flat however many people use the bot.
        self._locks = [asyncio.Lock() for _ in range(_STRIPES)]

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = 0
        if isinstance(update, Update) and update.effective_user is not None:
            key = update.effective_user.id
        async with self._locks[key % _STRIPES]:
            await coroutine

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""
