"""Benchmark the push scheduler: `make bench` or `python -m bench.bench_schedule`.

Generic over the push kinds the bot registers (`PushScheduler.kinds`): every person is switched
on for every kind through the kind's own `opt_in`, so a kind added later (the evening diary) is
scheduled and sent here without changing this file.

1. Rebuild: N people (default 100,000) with real per-user files and the store's scheduler index,
   every kind switched on at a random zone and time; a fresh process imports and builds the
   whole bot, then (timed) opens the store and rebuilds every kind's due index exactly as the
   start-up hook does.
   Reports seconds, how many (person, kind) slots, and the process's peak RSS.
2. Burst: M pushes (default 10,000) due in the same minute, Sunday 18:00 in Berlin, when every
   kind that can be due then is (morning tip set to 18:00, the Sunday summary, the evening
   checks: today a red-flag re-check for everyone; the diary at 18:00 once it exists), sent by
   the real bot through the loopback Bot API, once without and once with PTB's AIORateLimiter.
   Reports pushes and messages per second, how long a person waits for a reply to /tips sent
   during the burst, and per (person, kind): "unsent at the deadline" (not claimed yet: the
   scheduler would still send it), "lost" (claimed but not delivered: never sent, by design of
   the claim) and "duplicated" (a kind delivered twice, or more messages in a chat than the
   scheduler sent). The bench people have no episodes, so their Sunday summaries are the short
   "not enough yet" text; what a chart costs is measured separately (`chart_ms`).
3. Precision: a few people due at consecutive whole minutes while nothing else is queued, with
   the production 60 s tick; reports how late after its minute each push reached the server.

The loopback server runs in the bot's own process (and event loop), so the unlimited figure is a
floor for the bot alone. Data goes to a temporary folder that is removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456:BENCH-loopback-token-0123456789abcdefXYZ"
ZONES = (
    "Europe/Berlin", "Europe/London", "America/New_York", "America/Chicago",
    "America/Los_Angeles", "America/Sao_Paulo", "Asia/Kolkata", "Asia/Kathmandu",
    "Asia/Tokyo", "Australia/Sydney", "Africa/Lagos", "Europe/Madrid",
)  # fmt: skip
TIMES = tuple(clock_time(h, m) for h in range(6, 22) for m in (0, 15, 30, 45))
# Sunday 14 June 2026, 18:00 in Berlin (UTC+2): the Sunday summary's slot, and everyone's.
BURST_AT = datetime(2026, 6, 14, 16, 0, tzinfo=UTC)
BURST_LOCAL = clock_time(18, 0)
PRECISION_AT = datetime(2026, 6, 10, 6, 0, tzinfo=UTC)  # a Wednesday, 08:00 in Berlin
PROBE_UID = 999_999_999


def base_profile(uid: int, tz: str) -> dict[str, Any]:
    return {
        "user_id": uid,
        "created_at": "2026-01-01T00:00:00+00:00",
        "accepted": True,
        "tz": tz,
        "onboarded": True,
        "active": True,
    }


def push_kinds(workdir: Path) -> dict[str, Any]:
    """The push kinds the bot registers, as production builds it."""
    from bot.app import build_application
    from bot.config import Secret, Settings
    from bot.telegram.context import services_of

    app = build_application(Settings(token=Secret(TOKEN), data_dir=workdir / "kinds"))
    services = services_of(app)
    services.store.close_sync()
    return dict(services.pushes.kinds)


def switched_on(kinds: dict[str, Any], profile: dict[str, Any], at: clock_time) -> dict[str, Any]:
    for kind in kinds.values():
        profile.update(kind.opt_in(at))
    return profile


def make_users(data_dir: Path, profiles: dict[int, dict[str, Any]]) -> float:
    """Write user files the way the Store does (no fsync: setup only), then its index."""
    from bot.storage import FileStore

    started = time.perf_counter()
    store = FileStore(data_dir, fsync=False).open()
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
    """Runs in a fresh process: what a bot start costs for the push schedule."""
    from bot.app import build_application
    from bot.config import Secret, Settings
    from bot.storage import FileStore
    from bot.telegram.context import services_of

    store = FileStore(Path(data_dir))
    app = build_application(Settings(token=Secret(TOKEN), data_dir=Path(data_dir)), store=store)
    pushes = services_of(app).pushes
    baseline = _peak_rss_mb()  # the whole bot imported and built, content loaded
    started = time.perf_counter()
    store.open()
    entries = list(store.index_entries())
    pushes.rebuild(entries, datetime.now(UTC))
    seconds = time.perf_counter() - started
    peak = _peak_rss_mb()
    store.close_sync()
    print(
        json.dumps(
            {
                "users": len(entries),
                "scheduled": {name: pushes.scheduled(name) for name in pushes.kinds},
                "seconds": seconds,
                "peak_rss_mb": peak,
                "baseline_rss_mb": baseline,
            }
        )
    )


def bench_rebuild(users: int, workdir: Path, kinds: dict[str, Any]) -> dict[str, Any]:
    rng = random.Random(1)
    profiles = {
        uid: switched_on(kinds, base_profile(uid, rng.choice(ZONES)), rng.choice(TIMES))
        for uid in range(1, users + 1)
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


def burst_kinds(kinds: dict[str, Any]) -> list[str]:
    """The kinds that can all be due at BURST_AT for someone who switched them on at 18:00."""
    fitting = []
    for name, kind in kinds.items():
        profile = switched_on({name: kind}, base_profile(0, "Europe/Berlin"), BURST_LOCAL)
        if kind.local_time(profile) == BURST_LOCAL and kind.weekday in (None, 7):
            fitting.append(name)
    return fitting


def claimed(data_dir: Path, uids: range, kinds: dict[str, Any], names: list[str]) -> set[Any]:
    """(uid, kind) pairs whose marker says this burst's period was claimed."""
    from bot.domain.pushtime import period_key
    from bot.domain.zones import zone
    from bot.storage import Store

    day = BURST_AT.astimezone(zone("Europe/Berlin")).date()
    found = set()
    with Store(data_dir, fsync=False) as store:
        for uid in uids:
            profile = store.get_profile_sync(uid) or {}
            for name in names:
                kind = kinds[name]
                if profile.get(kind.marker) == period_key(day, kind.weekday is not None):
                    found.add((uid, name))
    return found


async def _burst(
    due: int, data_dir: Path, rate_limiter: bool, lead: float, kinds: dict[str, Any]
) -> dict[str, Any]:
    from bot.app import build_application, start_polling, stop_polling
    from bot.clock import ManualClock
    from bot.sandbox import LoopbackBotAPI
    from bot.telegram.context import services_of

    names = burst_kinds(kinds)
    people = math.ceil(due / len(names))
    uids = range(1, people + 1)
    profiles = {
        uid: switched_on(kinds, base_profile(uid, "Europe/Berlin"), BURST_LOCAL) for uid in uids
    }
    # The probe taps /tips during the burst; nothing of theirs is due (tip in the morning, the
    # red-flag check just offered).
    profiles[PROBE_UID] = {
        **base_profile(PROBE_UID, "Europe/Berlin"),
        "tip_time": "06:00",
        "redflag_offered_at": BURST_AT.isoformat(),
    }
    make_users(data_dir, profiles)
    server = LoopbackBotAPI(token=TOKEN, record_calls=False)
    await server.start()
    for uid in profiles:
        server.user(uid)
    clock = ManualClock(BURST_AT - timedelta(seconds=lead))
    # flood_limit=0: the probe taps ~3 times a second for minutes, which flood control would cut
    # off as a flood; it is here to time replies during the burst (bench/flood_bench.py times
    # flood control).
    settings = server.settings_for(data_dir, flood_limit=0)
    app = build_application(settings, clock=clock, rate_limiter=rate_limiter)
    pushes = services_of(app).pushes
    pushes.journal = []
    expected = people * len(names)
    await start_polling(app, timeout=1)
    probe = server.user(PROBE_UID)
    latencies: list[float] = []
    first_at: float | None = None
    first_late: float | None = None
    cpu_started = time.process_time()
    try:
        deadline = time.perf_counter() + max(120.0, expected / 10)
        while (
            sum(pushes.delivered[name] for name in names) < expected
            and time.perf_counter() < deadline
        ):
            if pushes.journal and first_at is None:
                first_at = time.perf_counter()
                first_late = (clock.now() - BURST_AT).total_seconds()
            if first_at is not None:  # someone taps while the burst goes out
                probe.mark_seen()
                asked = time.perf_counter()
                await probe.send("/tips")
                await probe.next_message(timeout=30)
                latencies.append(time.perf_counter() - asked)
            await asyncio.sleep(0.25 if first_at is not None else 0.005)
        ended = time.perf_counter()
        cpu = time.process_time() - cpu_started
    finally:
        await stop_polling(app)  # pushes being sent are finished first
        await server.stop()
    journal = pushes.journal
    received = {uid: len(server.user(uid).events) for uid in uids}
    sent_by_scheduler: Counter[int] = Counter()
    deliveries: Counter[tuple[int, str]] = Counter()
    complete: set[tuple[int, str]] = set()
    for name, uid, planned, sent in journal:
        sent_by_scheduler[uid] += sent
        if sent:
            deliveries[(uid, name)] += 1
        if sent == planned:
            complete.add((uid, name))
    claims = claimed(data_dir, uids, kinds, names)
    duplicated = {pair for pair, n in deliveries.items() if n > 1}
    duplicated |= {(uid, "?") for uid in uids if received[uid] > sent_by_scheduler[uid]}
    messages = sum(received.values())
    seconds = ended - (first_at or ended)
    delivered = sum(pushes.delivered[name] for name in names)
    return {
        "rate_limiter": rate_limiter,
        "kinds": names,
        "people": people,
        "due": expected,
        "delivered": delivered,
        "messages": messages,
        "seconds": seconds,
        "pushes_per_second": delivered / seconds if seconds else float("nan"),
        "messages_per_second": messages / seconds if seconds else float("nan"),
        # The probe's replies share the rate limiter with the pushes.
        "all_messages_per_second": (messages + len(latencies)) / seconds if seconds else math.nan,
        "first_push_late_s": first_late,
        "reply_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "reply_max_ms": max(latencies) * 1000 if latencies else float("nan"),
        "replies": len(latencies),
        # Process CPU (bot, loopback server and probe share it) per push delivered.
        "cpu_ms_per_push": cpu * 1000 / delivered if delivered else float("nan"),
        "unsent": expected - len(claims),
        "lost": len(claims - complete),
        "duplicated": len(duplicated),
    }


def bench_burst(
    due: int, workdir: Path, rate_limiter: bool, lead: float, kinds: dict[str, Any]
) -> dict[str, Any]:
    name = "burst-limited" if rate_limiter else "burst-unlimited"
    return asyncio.run(_burst(due, workdir / name, rate_limiter, lead, kinds))


def chart_ms(samples: int = 20) -> float:
    """What one Sunday summary with a chart costs to prepare (text and PNG), in ms."""
    from bot.content import load_content
    from bot.telegram.insights.week import week_parts_of

    content = load_content()
    now = BURST_AT
    episodes = [
        {
            "started_at": (now - timedelta(days=d, hours=3)).isoformat(),
            "tz": "Europe/Berlin",
            "intensity": 3 + d % 5,
            "regions": ["calves_feet"],
            "duration": "minutes",
            "triggers": ["poor_sleep"] if d % 3 else [],
        }
        for d in range(0, 30, 2)
    ]
    profile = base_profile(1, "Europe/Berlin")
    week_parts_of(content, profile, episodes, [], now)  # warm-up: fonts, matplotlib caches
    started = time.perf_counter()
    for _ in range(samples):
        chart, _text = week_parts_of(content, profile, episodes, [], now)
        assert chart is not None
    return (time.perf_counter() - started) * 1000 / samples


# ---------------------------------------------------------------------------- 3. precision


async def _precision(data_dir: Path, minutes: int, per_minute: int, phase: float) -> list[float]:
    from bot.app import build_application, start_polling, stop_polling
    from bot.clock import ManualClock
    from bot.domain.zones import zone
    from bot.sandbox import LoopbackBotAPI
    from bot.telegram.context import services_of

    berlin = zone("Europe/Berlin")
    due_at = {
        uid: PRECISION_AT + timedelta(minutes=m)
        for m in range(minutes)
        for uid in range(1 + m * per_minute, 1 + (m + 1) * per_minute)
    }
    profiles = {
        uid: {**base_profile(uid, "Europe/Berlin"), "tip_time": f"{at.astimezone(berlin):%H:%M}"}
        for uid, at in due_at.items()
    }
    make_users(data_dir, profiles)
    server = LoopbackBotAPI(token=TOKEN, record_calls=False)
    await server.start()
    users = {uid: server.user(uid) for uid in profiles}
    # Started `phase` s into the minute before the first: ticks from start-up would be that late.
    clock = ManualClock(PRECISION_AT - timedelta(minutes=1) + timedelta(seconds=phase))
    app = build_application(server.settings_for(data_dir), clock=clock)
    assert services_of(app).pushes.tick_seconds == 60
    await start_polling(app, timeout=1)
    late: dict[int, float] = {}
    try:
        deadline = time.perf_counter() + 60 * (minutes + 1) + 30
        while len(late) < len(due_at) and time.perf_counter() < deadline:
            now = clock.now()
            for uid, user in users.items():
                if uid not in late and user.events:
                    late[uid] = (now - due_at[uid]).total_seconds()
            await asyncio.sleep(0.005)
    finally:
        await stop_polling(app)
        await server.stop()
    return [late.get(uid, math.inf) for uid in due_at]


def bench_precision(workdir: Path, minutes: int, per_minute: int = 5) -> dict[str, Any]:
    phase = 60 - (13.7 if minutes > 1 else 1.7)  # 13.7 s (1.7 s quick) before the first minute
    lateness = asyncio.run(_precision(workdir / "precision", minutes, per_minute, phase))
    return {
        "pushes": len(lateness),
        "minutes": minutes,
        "late_min_s": min(lateness),
        "late_median_s": statistics.median(lateness),
        "late_max_s": max(lateness),
    }


# ---------------------------------------------------------------------------- report


def run(
    users: int,
    due: int,
    limited_due: int | None = None,
    lead: float = 2.0,
    precision_minutes: int = 2,
) -> dict[str, Any]:
    """Run all parts; returns the figures (also used by the smoke test)."""
    with tempfile.TemporaryDirectory(prefix="bench-schedule-") as tmp:
        workdir = Path(tmp)
        kinds = push_kinds(workdir)
        return {
            "kinds": sorted(kinds),
            "rebuild": bench_rebuild(users, workdir, kinds),
            "unlimited": bench_burst(due, workdir, False, lead, kinds),
            "limited": bench_burst(limited_due or due, workdir, True, lead, kinds),
            "chart_ms": chart_ms(3 if users < 1000 else 20),
            "precision": bench_precision(workdir, precision_minutes),
        }


def table(figures: dict[str, Any]) -> str:
    r = figures["rebuild"]
    slots = ", ".join(f"{name} {n:,}" for name, n in r["scheduled"].items())
    lines = [
        f"Rebuild of the push schedule ({r['users']:,} people; {slots})",
        f"  time                 {r['seconds']:.2f} s   (limit 5 s)",
        f"  peak RSS of process  {r['peak_rss_mb']:.0f} MB  (limit 300 MB; "
        f"{r['baseline_rss_mb']:.0f} MB with the bot built, before the rebuild)",
        f"  (test data setup took {r['setup_seconds']:.1f} s, not counted)",
        "",
        f"Burst: pushes due in the same minute (Sunday 18:00 Berlin; kinds: "
        f"{', '.join(figures['unlimited']['kinds'])}), real bot -> loopback Bot API",
        "  rate limiter    due     delivered  messages  seconds  push/s  msg/s  "
        "unsent/lost/dup  first late  /tips reply p50 / max",
    ]
    for key in ("unlimited", "limited"):
        b = figures[key]
        lines.append(
            f"  {'AIORateLimiter' if b['rate_limiter'] else 'none':<15} {b['due']:<7} "
            f"{b['delivered']:<10} {b['messages']:<9} {b['seconds']:<8.1f} "
            f"{b['pushes_per_second']:<7.1f} {b['messages_per_second']:<6.1f} "
            f"{b['unsent']}/{b['lost']}/{b['duplicated']:<11} {b['first_push_late_s']:<11.2f} "
            f"{b['reply_p50_ms']:.0f} / {b['reply_max_ms']:.0f} ms ({b['replies']} taps)"
        )
    p = figures["precision"]
    lines += [
        f"  a Sunday summary with its chart costs {figures['chart_ms']:.0f} ms to prepare "
        "(the burst's people have no episodes: text only)",
        "",
        f"Precision: {p['pushes']} pushes at {p['minutes']} whole minutes, nothing else queued, "
        "60 s ticks",
        f"  left after their minute: min {p['late_min_s']:.2f} s, median "
        f"{p['late_median_s']:.2f} s, max {p['late_max_s']:.2f} s (limit 5 s)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument(
        "--limited-due", type=int, default=None, help="pushes due for the rate-limited run"
    )
    args = parser.parse_args(argv)
    print(table(run(args.users, args.due, args.limited_due)))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "_rebuild":
        rebuild_child(sys.argv[2])
    else:
        sys.exit(main())
