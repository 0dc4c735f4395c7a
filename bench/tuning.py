"""What design changes would buy end to end: the coach as built today versus the coach with a
bounded HTTP connection pool, bounded concurrency and cached time zones, each next to the bare
echo bot in the same run. Not part of `make bench` (it is an experiment, not a claim).

    python -m bench.tuning [users]

The overrides are applied by patching at build time only, so nothing in bot/ changes:
- connection_pool_size(8): httpcore walks its whole pool and queue on every request; with 256
  connections open that walk costs more than the request;
- PerUserUpdateProcessor(16): fewer handlers waiting on the pool at once;
- functools.cache around zoneinfo.ZoneInfo: the time-zone keyboard builds ~10 zones per render,
  more than ZoneInfo's own cache of 8 keeps, so each render reloads tzdata files.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import tempfile
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

from telegram.ext import ApplicationBuilder

import bot.domain.zones as zones
from bench.e2e_bench import TOKEN, E2EResult, _phase, build_echo
from bench.workload import coach_session, echo_session
from bot.app import build_application
from bot.sandbox import LoopbackBotAPI
from bot.storage import FileStore
from bot.telegram import updates


@contextlib.contextmanager
def tuned(pool: int, concurrency: int, cache_zones: bool) -> Iterator[None]:
    build, init = ApplicationBuilder.build, updates.PerUserUpdateProcessor.__init__
    zoneinfo_module = zones.zoneinfo

    def patched_build(self: ApplicationBuilder) -> object:  # type: ignore[type-arg]
        self.connection_pool_size(pool)
        return build(self)

    def patched_init(self: updates.PerUserUpdateProcessor, _n: int = 256) -> None:
        init(self, concurrency)

    ApplicationBuilder.build = patched_build  # type: ignore[method-assign]
    updates.PerUserUpdateProcessor.__init__ = patched_init  # type: ignore[method-assign]
    if cache_zones:
        zones.zoneinfo = SimpleNamespace(  # type: ignore[assignment]
            ZoneInfo=functools.cache(zoneinfo.ZoneInfo),
            ZoneInfoNotFoundError=zoneinfo.ZoneInfoNotFoundError,
            available_timezones=zoneinfo.available_timezones,
        )
    try:
        yield
    finally:
        ApplicationBuilder.build = build  # type: ignore[method-assign]
        updates.PerUserUpdateProcessor.__init__ = init  # type: ignore[method-assign]
        zones.zoneinfo = zoneinfo_module


async def compare(users: int, rounds: int = 2) -> list[E2EResult]:
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        async with LoopbackBotAPI(TOKEN, record_calls=False) as server:
            echo = build_echo(server, False)
            results.append(
                await _phase(
                    server, echo, "PTB echo bot (defaults)", 1, users, echo_session(rounds)
                )
            )
            for n, (name, ctx) in enumerate(
                [
                    ("coach as built", contextlib.nullcontext()),
                    ("coach, pool 8 + 16 concurrent + zone cache", tuned(8, 16, True)),
                ]
            ):
                data_dir = Path(tmp) / f"data{n}"
                settings = server.settings_for(data_dir)
                with ctx:
                    app = build_application(
                        settings, store=FileStore(data_dir).open(), rate_limiter=False
                    )
                    uid = 1_000_000 * (n + 2)
                    results.append(
                        await _phase(server, app, name, uid, users, coach_session(rounds))
                    )
    return results


def main() -> None:
    users = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    results = asyncio.run(compare(users))
    echo = results[0]
    for r in results:
        print(
            f"{r.bot:<45} {r.updates_per_s:7.1f} upd/s  p50 {r.p50_ms:7.1f} ms  "
            f"p99 {r.p99_ms:7.1f} ms  CPU {r.cpu_ms_per_update:5.2f} ms/upd  "
            f"-> {r.updates_per_s / echo.updates_per_s:.2f}x throughput, "
            f"{r.p99_ms / echo.p99_ms:.2f}x p99 of the echo bot"
        )


if __name__ == "__main__":
    main()
