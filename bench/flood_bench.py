"""Benchmark 5, one person flooding: how long everyone else waits for a reply while one person
sends `flood` updates as fast as a script can (50 a second), against the same people when nobody
floods. One run, one loopback server, the coach as shipped (`build_application`: AIORateLimiter at
Telegram's ~30 messages/s, flood control on), and for contrast the same bot with flood control
off (COACH_FLOOD_LIMIT=0), fresh users and data each.

The others are `probers` onboarded people, each sending /help once a second (a person's pace,
well under the flood limit) with staggered starts; latency is from their update being available
at the server to the bot's reply. The idle phase lasts as long as the flood does.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.stats import ms, percentile
from bench.workload import ONBOARDING, run_session
from bot.app import build_application, start_polling, stop_polling
from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.storage import Store

TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"
FLOOD_RATE = 50.0  # updates per second from the flooding person
PROBE_EVERY = 1.0  # seconds between one prober's /help


@dataclass
class FloodResult:
    bot: str
    phase: str  # "idle" | "flood"
    probes: int
    p50_ms: float
    p99_ms: float
    flood_sent: int = 0  # updates the flooding person sent
    flood_answered: int = 0  # bot messages they got (replies and the note)


async def _probe(user: FakeUser, until: float, offset: float, out: list[float]) -> None:
    """Send /help once a second until `until` (perf_counter), recording each reply's latency."""
    await asyncio.sleep(offset)
    while time.perf_counter() < until:
        started = time.perf_counter()
        await user.send("/help")
        await user.next_message(timeout=120)
        out.append(time.perf_counter() - started)
        await asyncio.sleep(max(0.0, started + PROBE_EVERY - time.perf_counter()))


async def _flood(user: FakeUser, count: int) -> None:
    started = time.perf_counter()
    for n in range(count):
        await user.send(f"hello {n}")
        await asyncio.sleep(max(0.0, started + (n + 1) / FLOOD_RATE - time.perf_counter()))


async def _probe_phase(probers: list[FakeUser], seconds: float, flooder: Any = None) -> list[float]:
    latencies: list[float] = []
    until = time.perf_counter() + seconds
    tasks = [
        _probe(u, until, PROBE_EVERY * n / len(probers), latencies) for n, u in enumerate(probers)
    ]
    await asyncio.gather(*tasks, *([flooder] if flooder is not None else []))
    return latencies


def _result(bot: str, phase: str, latencies: list[float], **extra: int) -> FloodResult:
    return FloodResult(
        bot, phase, len(latencies), ms(percentile(latencies, 50)), ms(percentile(latencies, 99)),
        **extra,
    )  # fmt: skip


async def _scenario(
    server: LoopbackBotAPI, data_dir: Path, bot: str, flood_limit: int | None, first_uid: int,
    flood: int, probers: int,
) -> list[FloodResult]:  # fmt: skip
    overrides = {} if flood_limit is None else {"flood_limit": flood_limit}
    settings = server.settings_for(data_dir, **overrides)
    app = build_application(settings, store=Store(data_dir).open())  # rate limiter on: shipped
    await start_polling(app, timeout=1)
    try:
        people = [server.user(first_uid + n) for n in range(probers + 1)]
        await asyncio.gather(*(run_session(u, list(ONBOARDING), timeout=60) for u in people))
        flooder, others = people[0], people[1:]
        seconds = flood / FLOOD_RATE
        idle = await _probe_phase(others, seconds)
        before = len(flooder.events)
        busy = await _probe_phase(others, seconds, _flood(flooder, flood))
        with contextlib.suppress(TimeoutError):  # let what was accepted be answered
            await server.wait_until_delivered(timeout=30)
    finally:
        await stop_polling(app)  # waits for every reply still queued at the rate limiter
    answered = len(flooder.events) - before  # counted once the bot has finished
    return [
        _result(bot, "idle", idle),
        _result(bot, "flood", busy, flood_sent=flood, flood_answered=answered),
    ]


async def bench_flood(
    flood: int = 500, probers: int = 20, data_root: Path | None = None
) -> list[FloodResult]:
    with tempfile.TemporaryDirectory(dir=data_root) as tmp:
        async with LoopbackBotAPI(TOKEN, record_calls=False) as server:
            shipped = await _scenario(
                server, Path(tmp) / "shipped", "coach as shipped", None, 5_000_000, flood, probers
            )
            off = await _scenario(
                server, Path(tmp) / "off", "coach, flood control off", 0, 6_000_000, flood,
                probers,
            )  # fmt: skip
    return shipped + off
