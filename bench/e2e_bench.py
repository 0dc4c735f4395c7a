"""Benchmark 2, end to end: N simulated users at once through the loopback Bot API, over real HTTP.

In one run and on one loopback server, these bots serve the same number of updates per user: a
bare python-telegram-bot echo bot with PTB's defaults (one update at a time) and with
`concurrent_updates(256)`; a bare button bot (answer the tap, edit the message); the coach with
PTB's defaults for what bot/app.py tunes (a 256-connection pool, 256 updates at once); and the
coach as shipped (built by production's `build_application`, real Store with fsync). Throughput
is updates per second over the whole phase; latency is from the update being available at the
server until the person sees the result: the first message or edit, after the tap's answer for a
button (bench/workload.py), measured the same way for every bot.

The coach runs without PTB's AIORateLimiter here (production keeps it on): the limiter holds all
sends to Telegram's ~30 messages/s, which would measure Telegram's limit, not the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

import bot.app as app_module
from bench.stats import ms, percentile
from bench.workload import button_echo_session, coach_session, echo_session, run_session
from bot.app import build_application, start_polling, stop_polling
from bot.sandbox import LoopbackBotAPI
from bot.storage import FileStore

TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"
COACH_UNTUNED = "coach, untuned (pool 256, 256 at once)"


@dataclass
class E2EResult:
    bot: str
    users: int
    updates: int
    seconds: float
    updates_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    api_calls_per_update: float  # Bot API calls besides getUpdates, per update served
    cpu_ms_per_update: float  # this process (bot + loopback server + users), all threads


async def _echo(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None and update.effective_message.text is not None
    await update.effective_message.reply_text(update.effective_message.text)


_TAP = InlineKeyboardMarkup([[InlineKeyboardButton("tap", callback_data="tap")]])


async def _button_reply(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text("tap the button", reply_markup=_TAP)


async def _button_echo(update: Update, _ctx: ContextTypes.DEFAULT_TYPE) -> None:
    """What a button costs at least: answer the tap, edit the message in place."""
    query = update.callback_query
    assert query is not None
    await query.answer()
    await query.edit_message_text(f"tapped {update.update_id}", reply_markup=_TAP)


def build_button_echo(server: LoopbackBotAPI) -> Application[Any, Any, Any, Any, Any, Any]:
    app = _builder(server).concurrent_updates(256).build()
    app.add_handler(MessageHandler(filters.TEXT, _button_reply))
    app.add_handler(CallbackQueryHandler(_button_echo))
    return app


def _builder(server: LoopbackBotAPI) -> Any:
    return (
        ApplicationBuilder()
        .token(TOKEN)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )


def build_echo(
    server: LoopbackBotAPI, concurrent: int | bool
) -> Application[Any, Any, Any, Any, Any, Any]:
    app = _builder(server).concurrent_updates(concurrent).build()
    app.add_handler(MessageHandler(filters.TEXT, _echo))
    return app


@contextlib.contextmanager
def untuned() -> Iterator[None]:
    """The coach with PTB's defaults for what bot/app.py tunes: 256 pooled connections with PTB's
    1 s pool wait, 256 updates at once (build_application reads these when it builds)."""
    names = ("CONCURRENT_UPDATES", "CONNECTION_POOL", "POOL_TIMEOUT_SECONDS")
    saved = {name: getattr(app_module, name) for name in names}
    for name, value in zip(names, (256, 256, 1.0), strict=True):
        setattr(app_module, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(app_module, name, value)


async def _phase(
    server: LoopbackBotAPI,
    app: Any,
    name: str,
    first_uid: int,
    users: int,
    steps: list[Any],
) -> E2EResult:
    await start_polling(app, timeout=1)
    server.reset_calls()
    try:
        fakes = [server.user(first_uid + n) for n in range(users)]
        started, cpu = time.perf_counter(), time.process_time()
        outcomes = await asyncio.gather(
            *(run_session(u, steps) for u in fakes), return_exceptions=True
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await stop_polling(app)
    latencies = [x for o in outcomes if isinstance(o, list) for x in o]
    errors = sum(1 for o in outcomes if isinstance(o, BaseException))
    counts = dict(server.call_counts)
    calls = sum(counts.values()) - counts.get("getUpdates", 0)
    return E2EResult(
        bot=name,
        users=users,
        updates=len(latencies),
        seconds=seconds,
        updates_per_s=len(latencies) / seconds,
        p50_ms=ms(percentile(latencies, 50)),
        p99_ms=ms(percentile(latencies, 99)),
        errors=errors,
        api_calls_per_update=calls / max(1, len(latencies)),
        cpu_ms_per_update=ms(cpu) / max(1, len(latencies)),
    )


async def bench_e2e(
    users: int = 200, rounds: int = 3, data_root: Path | None = None
) -> list[E2EResult]:
    """Echo (PTB defaults), echo (concurrent), button echo (the API calls of a button flow and
    nothing else), coach untuned, coach as shipped; same server, same run, fresh users each."""
    with tempfile.TemporaryDirectory(dir=data_root) as tmp:
        async with LoopbackBotAPI(TOKEN, record_calls=False) as server:
            results = [
                await _phase(
                    server, build_echo(server, False), "PTB echo bot (defaults)", 1_000_000,
                    users, echo_session(rounds),
                ),
                await _phase(
                    server, build_echo(server, 256), "PTB echo bot (concurrent_updates=256)",
                    2_000_000, users, echo_session(rounds),
                ),
                await _phase(
                    server, build_button_echo(server), "PTB button echo (answer+edit, 256)",
                    4_000_000, users, button_echo_session(rounds),
                ),
            ]  # fmt: skip
            for name, first_uid, tuning in (
                (COACH_UNTUNED, 5_000_000, untuned()),
                ("coach", 3_000_000, contextlib.nullcontext()),
            ):
                settings = server.settings_for(Path(tmp) / f"data-{first_uid}")
                store = FileStore(settings.data_dir, fsync=True).open()
                with tuning:
                    app = build_application(settings, store=store, rate_limiter=False)
                results.append(
                    await _phase(server, app, name, first_uid, users, coach_session(rounds))
                )
    return results
