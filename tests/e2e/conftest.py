"""Fixtures for end-to-end tests; the harness itself is in harness.py."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.sandbox import LoopbackBotAPI
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
async def harness(loopback: LoopbackBotAPI, tmp_path: Path) -> AsyncIterator[BotHarness]:
    bot = BotHarness(loopback, tmp_path / "data", ManualClock())
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


@pytest.fixture
async def bot(loopback: LoopbackBotAPI, tmp_path: Path) -> AsyncIterator[PushHarness]:
    """A bot for push tests, started at 07:00 in Berlin on Wednesday 10 June 2026."""
    harness = PushHarness(loopback, tmp_path / "data", ManualClock(berlin(7)))
    await harness.start()
    try:
        yield harness
    finally:
        await harness.stop()
