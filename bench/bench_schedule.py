"""Benchmark the morning-tip scheduler: `make bench` or `python -m bench.bench_schedule`.

1. Rebuild: N users (default 100,000) with real per-user files and the store's scheduler index;
   a fresh process imports the whole bot, opens the store and rebuilds the due index exactly
   as the start-up hook does. Reports seconds and the process's peak RSS.
2. Burst: M users (default 10,000) due in the same minute, sent by the real bot through the
   loopback Bot API, once without and once with PTB's AIORateLimiter. Reports messages/s and
   how long a user waits for a reply to /tips sent during the burst.

The loopback server runs in the bot's own process (and event loop), so the unlimited figure is a
floor for the bot alone. Data goes to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-loopback-token-0123456789abcdefXYZ"
ZONES = (
    "Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu",
    "Asia/Tokyo", "Australia/Sydney", "Africa/Lagos", "Europe/Madrid",
)  # fmt: skip
TIMES = tuple(f"{h:02d}:{m:02d}" for h in range(6, 11) for m in (0, 15, 30, 45))
# 08:00 in Berlin on a summer day: the burst users' tip time. The bot starts `lead` s before.
BURST_AT = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)
PROBE_UID = 999_999_999


def profile(uid: int, tz: str, tip_time: str) -> dict[str, Any]:
    return {
        "user_id": uid,
        "created_at": "2026-01-01T00:00:00+00:00",
        "accepted": True,
        "tz": tz,
        "tip_time": tip_time,
        "onboarded": True,
        "active": True,
    }


def make_users(data_dir: Path, profiles: dict[int, dict[str, Any]]) -> float:
    """Write user files the way the Store does (no fsync: setup only), then its index."""
    from bot.storage import Store

    started = time.perf_counter()
    store = Store(data_dir, fsync=False).open()
    try:
        for uid, prof in profiles.items():
            data = {"_meta": {"1": {"schema": 1}}, "profile": {"1": prof}}
            store.user_path(uid).write_text(json.dumps(data), encoding="utf-8")
        store.rebuild_index()
    finally:
        store.close_sync()
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- 1. rebuild


def _peak_rss_mb() -> float:
    """This process's own peak RSS. VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec, so a
    child started by a big parent (bench.run after the storage benchmark) would report the
    parent's size."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rebuild_child(data_dir: str) -> None:
    """Runs in a fresh process: what a bot start costs for the tip schedule."""
    import bot.app  # noqa: F401  (the whole bot's imports count towards memory)
    from bot.domain.coaching import CATCH_UP
    from bot.scheduling import DueIndex
    from bot.storage import Store

    baseline = _peak_rss_mb()
    started = time.perf_counter()
    store = Store(Path(data_dir)).open()
    entries = list(store.index_entries())
    index = DueIndex()
    index.rebuild(entries, datetime.now(UTC), CATCH_UP)
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    store.close_sync()
    print(
        json.dumps(
            {
                "users": len(entries),
                "scheduled": len(index),
                "seconds": seconds,
                "peak_rss_mb": peak,
                "baseline_rss_mb": baseline,
            }
        )
    )


def bench_rebuild(users: int, workdir: Path) -> dict[str, Any]:
    rng = random.Random(1)
    profiles = {
        uid: profile(uid, rng.choice(ZONES), rng.choice(TIMES)) for uid in range(1, users + 1)
    }
    setup = make_users(workdir / "rebuild", profiles)
    out = subprocess.run(
        [sys.executable, "-m", "bench.bench_schedule", "_rebuild", str(workdir / "rebuild")],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["setup_seconds"] = setup
    return result


# ---------------------------------------------------------------------------- 2. burst


async def _burst(due: int, data_dir: Path, rate_limiter: bool, lead: float) -> dict[str, Any]:
    from bot.app import build_application, start_polling, stop_polling
    from bot.clock import ManualClock
    from bot.sandbox import LoopbackBotAPI

    profiles = {uid: profile(uid, "Europe/Berlin", "08:00") for uid in range(1, due + 1)}
    profiles[PROBE_UID] = profile(PROBE_UID, "Europe/Berlin", "20:00")
    make_users(data_dir, profiles)
    server = LoopbackBotAPI(token=TOKEN, record_calls=False)
    await server.start()
    for uid in profiles:
        server.user(uid)
    # flood_limit=0: the probe taps ~3 times a second for minutes, which flood control would cut
    # off as a flood; it is here to time replies during the burst (bench/flood_bench.py times
    # flood control).
    settings = server.settings_for(data_dir, tip_tick_seconds=0.2, flood_limit=0)
    clock = ManualClock(BURST_AT - timedelta(seconds=lead))
    app = build_application(settings, clock=clock, rate_limiter=rate_limiter)
    await start_polling(app, timeout=1)
    scheduler = app.bot_data["tips_scheduler"]
    probe = server.user(PROBE_UID)
    latencies: list[float] = []
    first_at: float | None = None
    cpu_started = time.process_time()
    try:
        deadline = time.perf_counter() + max(120.0, due / 10)
        while scheduler.sent < due and time.perf_counter() < deadline:
            if scheduler.sent and first_at is None:
                first_at = time.perf_counter()
            if first_at is not None:  # a user taps while the burst goes out
                probe.mark_seen()
                asked = time.perf_counter()
                await probe.send("/tips")
                await probe.next_message(timeout=30)
                latencies.append(time.perf_counter() - asked)
            await asyncio.sleep(0.25)
        ended = time.perf_counter()
        cpu = time.process_time() - cpu_started
        # Per person: a due user with no message lost their tip, one with two got a duplicate.
        received = [len(server.user(uid).events) for uid in range(1, due + 1)]
    finally:
        await stop_polling(app)
        await server.stop()
    sent = scheduler.sent
    seconds = ended - (first_at or ended)
    return {
        "rate_limiter": rate_limiter,
        "due": due,
        "sent": sent,
        "seconds": seconds,
        "per_second": sent / seconds if seconds else float("nan"),
        "reply_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "reply_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "replies": len(latencies),
        # Process CPU (bot, loopback server and probe share it) per tip sent.
        "cpu_ms_per_tip": cpu * 1000 / sent if sent else float("nan"),
        "lost": sum(1 for n in received if n == 0),
        "duplicated": sum(1 for n in received if n > 1),
    }


def bench_burst(due: int, workdir: Path, rate_limiter: bool, lead: float) -> dict[str, Any]:
    name = "burst-limited" if rate_limiter else "burst-unlimited"
    return asyncio.run(_burst(due, workdir / name, rate_limiter, lead))


# ---------------------------------------------------------------------------- report


def run(users: int, due: int, limited_due: int | None = None, lead: float = 2.0) -> dict[str, Any]:
    """Run all parts; returns the figures (also used by the smoke test)."""
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        workdir = Path(tmp)
        return {
            "rebuild": bench_rebuild(users, workdir),
            "unlimited": bench_burst(due, workdir, rate_limiter=False, lead=lead),
            "limited": bench_burst(limited_due or due, workdir, rate_limiter=True, lead=lead),
        }


def table(figures: dict[str, Any]) -> str:
    r = figures["rebuild"]
    lines = [
        f"Rebuild of the tip schedule ({r['users']:,} users, {r['scheduled']:,} scheduled)",
        f"  time                 {r['seconds']:.2f} s   (limit 5 s)",
        f"  peak RSS of process  {r['peak_rss_mb']:.0f} MB  (limit 300 MB; "
        f"{r['baseline_rss_mb']:.0f} MB after imports)",
        f"  (test data setup took {r['setup_seconds']:.1f} s, not counted)",
        "",
        "Burst: users due in the same minute, real bot -> loopback Bot API",
        "  rate limiter    due     sent    seconds  msg/s   /tips reply p50 / max",
    ]
    for key in ("unlimited", "limited"):
        b = figures[key]
        lines.append(
            f"  {'AIORateLimiter' if b['rate_limiter'] else 'none':<15} {b['due']:<7} "
            f"{b['sent']:<7} {b['seconds']:<8.1f} {b['per_second']:<7.1f} "
            f"{b['reply_p50_ms']:.0f} / {b['reply_max_ms']:.0f} ms ({b['replies']} taps)"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument(
        "--limited-due", type=int, default=None, help="due users for the rate-limited run"
    )
    args = parser.parse_args(argv)
    print(table(run(args.users, args.due, args.limited_due)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_rebuild":
        rebuild_child(sys.argv[2])
    else:
        sys.exit(main())
