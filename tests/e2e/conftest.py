"""Fixtures for end-to-end tests; the harness itself is in harness.py. Every test that uses
`harness` (or another fixture taking `backend`) runs on both storage engines."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.clock import ManualClock
from bot.sandbox import LoopbackBotAPI
from tests.conftest import Backend
from tests.e2e.harness import TOKEN, BotHarness, PushHarness, berlin


@pytest.fixture
async def loopback() -> AsyncIterator[LoopbackBotAPI]:
    server = LoopbackBotAPI(token=TOKEN)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def harness(loopback: LoopbackBotAPI, backend: Backend) -> AsyncIterator[BotHarness]:
    bot = BotHarness(loopback, backend.data_dir, ManualClock(), database_url=backend.url)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def bot(loopback: LoopbackBotAPI, backend: Backend) -> AsyncIterator[PushHarness]:
    """A bot for push tests, started at 07:00 in Berlin on Wednesday 10 June 2026."""
    clock = ManualClock(berlin(7))
    harness = PushHarness(loopback, backend.data_dir, clock, database_url=backend.url)
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
