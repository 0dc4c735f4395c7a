"""`make bench`: every benchmark in one run, printed as one table with the machine and command.

python -m bench.run                # full sizes (a few minutes)
python -m bench.run --quick        # tiny sizes, seconds (what the smoke test runs)
python -m bench.run --only storage # or e2e, flood, schedule, startup, postgres (repeatable)

Every ratio printed compares figures measured in this run, the same way on both sides.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.e2e_bench import COACH_UNTUNED, E2EResult, bench_e2e
from bench.flood_bench import FLOOD_RATE, FloodResult, bench_flood
from bench.startup_bench import StartupResult, bench_startup
from bench.storage_bench import STOCK_PER_USER, StorageResult, bench_store, bench_tinydb

FULL = {
    "store_sizes": [1_000, 100_000, 1_000_000],
    "users": 10_000,
    "store_samples": 2_000,
    "tinydb_sizes": [1_000, 10_000, 100_000, 1_000_000],
    "tinydb_budget_s": 90.0,
    "tinydb_max_samples": 200,
    "e2e_users": 200,
    "e2e_rounds": 2,
    "startup_users": 100_000,
    "startup_episodes": 1_000_000,
    "flood_updates": 500,
    "flood_probers": 20,
    # 5. PostgreSQL beside the file store (bench/postgres_bench.py)
    "store_sizes_pg": [1_000, 1_000_000],
    "claim_people": 10_000,
    "copy_users": 10_000,
    "copy_episodes": 100_000,
}
QUICK = {
    "store_sizes": [100, 1_000],
    "users": 50,
    "store_samples": 50,
    "tinydb_sizes": [100, 1_000],
    "tinydb_budget_s": 1.0,
    "tinydb_max_samples": 20,
    "e2e_users": 5,
    "e2e_rounds": 1,
    "startup_users": 300,
    "startup_episodes": 1_000,
    "flood_updates": 50,
    "flood_probers": 3,
    "store_sizes_pg": [100, 1_000],
    "claim_people": 50,
    "copy_users": 100,
    "copy_episodes": 1_000,
}


def _fmt(value: float, digits: int = 2) -> str:
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else (f"{value:,.{digits}f}")
    )


def check(name: str, ok: bool, detail: str) -> str:
    return f"  [{'met' if ok else 'MISSED'}] {name}: {detail}"


def storage_section(results: list[StorageResult]) -> list[str]:
    lines = [
        "1. Storage growth: save one check-in (p50/p99 ms; fsync on for the coach)",
        f"  {'engine':<40} {'stored':>10} {'samples':>8} {'p50 ms':>9} {'p99 ms':>9}  note",
    ]
    for r in results:
        lines.append(
            f"  {r.engine:<40} {r.stored:>10,} {r.samples:>8} {_fmt(r.p50_ms):>9} "
            f"{_fmt(r.p99_ms):>9}  {r.note or f'fixture built in {r.build_s:.1f} s'}"
        )
    coach = {r.stored: r for r in results if r.engine.startswith("coach")}
    stock = {r.stored: r for r in results if r.engine == STOCK_PER_USER}
    for size, r in coach.items():
        if size in stock:
            base = stock[size]
            lines.append(
                f"  [info] coach Store / stock TinyDB, same per-person files, {size:,} stored: "
                f"p50 {r.p50_ms / base.p50_ms:.2f}x, p99 {r.p99_ms / base.p99_ms:.2f}x"
            )
    if coach:
        small, large = coach[min(coach)], coach[max(coach)]
        ratio = large.p99_ms / small.p99_ms
        lines.append(
            check(f"p99 at {large.stored:,} <= 5 ms", large.p99_ms <= 5, f"{large.p99_ms:.2f} ms")
        )
        lines.append(
            check(
                f"p99({large.stored:,}) / p99({small.stored:,}) <= 1.5",
                ratio <= 1.5,
                f"{ratio:.2f}",
            )
        )
    return lines


def e2e_section(results: list[E2EResult]) -> list[str]:
    lines = [
        "2. End to end through the loopback Bot API (same server, same run)",
        f"  {'bot':<40} {'users':>5} {'updates':>8} {'upd/s':>8} {'p50 ms':>9} {'p99 ms':>9} "
        f"{'calls/upd':>9} {'CPU ms/upd':>10} {'errors':>6}",
    ]
    for r in results:
        lines.append(
            f"  {r.bot:<40} {r.users:>5} {r.updates:>8} {r.updates_per_s:>8.1f} "
            f"{r.p50_ms:>9.1f} {r.p99_ms:>9.1f} {r.api_calls_per_update:>9.2f} "
            f"{r.cpu_ms_per_update:>10.2f} {r.errors:>6}"
        )
    coach = next((r for r in results if r.bot == "coach"), None)
    for base in results:
        if coach is None or base is coach:
            continue
        if base.bot == COACH_UNTUNED:  # not a target: what bot/app.py's tuning buys
            lines.append(
                f"  [info] coach as shipped vs {base.bot}: throughput "
                f"{coach.updates_per_s / base.updates_per_s:.2f}x, "
                f"p99 {coach.p99_ms / base.p99_ms:.2f}x"
            )
            continue
        tput = coach.updates_per_s / base.updates_per_s
        p99 = coach.p99_ms / base.p99_ms
        if "button" in base.bot:  # not a target: shows what the coach's own logic costs
            lines.append(f"  [info] vs {base.bot}: throughput {tput:.2f}x, p99 {p99:.2f}x")
            continue
        lines.append(check(f"throughput >= 0.8x {base.bot}", tput >= 0.8, f"{tput:.2f}x"))
        lines.append(check(f"p99 <= 1.5x {base.bot}", p99 <= 1.5, f"{p99:.2f}x"))
    return lines


def flood_section(results: list[FloodResult]) -> list[str]:
    sent = next(r.flood_sent for r in results if r.phase == "flood")
    lines = [
        f"6. One person floods ({sent} updates at {FLOOD_RATE:.0f}/s): the others' /help replies, "
        "idle and meanwhile (rate limiter on, as shipped)",
        f"  {'bot':<28} {'phase':<6} {'probes':>6} {'p50 ms':>8} {'p99 ms':>8}  "
        "the flooding person",
    ]
    for r in results:
        who = f"sent {r.flood_sent}, got {r.flood_answered} messages" if r.phase == "flood" else ""
        lines.append(
            f"  {r.bot:<28} {r.phase:<6} {r.probes:>6} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f}  {who}"
        )
    by = {(r.bot, r.phase): r for r in results}
    for bot in dict.fromkeys(r.bot for r in results):
        idle, busy = by[(bot, "idle")], by[(bot, "flood")]
        ratio = busy.p99_ms / idle.p99_ms
        detail = f"{busy.p99_ms:.1f} ms vs {idle.p99_ms:.1f} ms idle = {ratio:.2f}x"
        if bot == results[0].bot:
            target = f"p99 while one person floods <= 2x idle ({bot})"
            lines.append(check(target, ratio <= 2, detail))
        else:
            lines.append(f"  [info] {bot}: p99 {detail}")
    return lines


def schedule_section(quick: bool) -> list[str]:
    """Benchmarks 3 and 4 come from bench/bench_schedule.py (the push scheduler, generic over
    the registered push kinds), called here with the issue's sizes; the target checks are added
    below its table."""
    from bench import bench_schedule

    if quick:
        figures = bench_schedule.run(300, 20, 20, 0.3, precision_minutes=1)
    else:
        # 2,000 pushes due with the limiter: ~67 s at 30/s, more than the 60 s sample asked for.
        figures = bench_schedule.run(100_000, 10_000, 2_000)
    lines = ["3./4. Daily pushes: fan-out, precision and start-up (bench/bench_schedule.py)"]
    lines += ["  " + line for line in bench_schedule.table(figures).splitlines()]
    free, limited, rebuild = figures["unlimited"], figures["limited"], figures["rebuild"]
    precision = figures["precision"]
    lines += [
        f"  CPU per push without limiter: {free['cpu_ms_per_push']:.2f} ms; with the limiter, "
        f"pushes and the probe's replies together: {limited['all_messages_per_second']:.1f} "
        "messages/s",
        check(
            "CPU per push <= 2 ms (no limiter)",
            free["cpu_ms_per_push"] <= 2,
            f"{free['cpu_ms_per_push']:.2f} ms",
        ),
        check(
            "sustained >= 28.5 messages/s with the limiter over >= 60 s",
            limited["messages_per_second"] >= 28.5 and limited["seconds"] >= 60,
            f"{limited['messages_per_second']:.1f}/s over {limited['seconds']:.0f} s",
        ),
        check(
            "every push due sent by the deadline, 0 lost, 0 duplicated",
            not any(b[k] for b in (free, limited) for k in ("unsent", "lost", "duplicated")),
            f"unsent/lost/duplicated {free['unsent']}/{free['lost']}/{free['duplicated']} "
            f"(unlimited), {limited['unsent']}/{limited['lost']}/{limited['duplicated']} "
            "(limited)",
        ),
        check(
            "a push leaves within 5 s of its minute when nothing is queued",
            precision["late_max_s"] <= 5,
            f"max {precision['late_max_s']:.2f} s over {precision['pushes']} pushes",
        ),
        check(
            f"serving with schedules rebuilt <= 5 s ({rebuild['users']:,} people, "
            f"{len(rebuild['scheduled'])} kinds)",
            rebuild["seconds"] <= 5,
            f"{rebuild['seconds']:.2f} s",
        ),
        check(
            "peak resident memory <= 300 MB",
            rebuild["peak_rss_mb"] <= 300,
            f"{rebuild['peak_rss_mb']:.0f} MB",
        ),
    ]
    return lines


def startup_section(r: StartupResult) -> list[str]:
    return [
        f"4b. Start-up of the real process (python -m bot run), {r.users:,} users with "
        f"{r.episodes:,} episodes",
        f"  to serving (first getUpdates, every start-up hook done): {r.seconds_to_serving:.2f} s; "
        f"peak RSS {r.peak_rss_mb:.0f} MB; push schedule rebuilt for {r.pushes_rebuilt}",
        check(
            "serving with schedules rebuilt <= 5 s",
            r.seconds_to_serving <= 5,
            f"{r.seconds_to_serving:.2f} s",
        ),
        check("peak resident memory <= 300 MB", r.peak_rss_mb <= 300, f"{r.peak_rss_mb:.0f} MB"),
    ]


def postgres_section(figures: dict[str, Any]) -> list[str]:
    """Benchmark 5: both engines side by side on the same workloads."""
    lines = [
        "5. PostgreSQL beside the file store (bench/postgres_bench.py; durable settings, TCP on "
        "127.0.0.1)",
        "  a. save one check-in, p50 / p99 ms",
        f"  {'stored episodes':>17} {'file store':>17} {'PostgreSQL':>17}",
    ]
    saves = figures["saves"]
    for stored, p50, p99, _build in saves:
        f50, f99 = figures["file_saves"][stored]
        lines.append(f"  {stored:>17,} {f50:>8.2f} / {f99:<6.2f} {p50:>8.2f} / {p99:<6.2f}")
    small, large = saves[0], saves[-1]
    lines += [
        check(f"PostgreSQL p99 at {large[0]:,} <= 5 ms", large[2] <= 5, f"{large[2]:.2f} ms"),
        check(
            f"PostgreSQL p99({large[0]:,}) / p99({small[0]:,}) <= 1.5",
            large[2] / small[2] <= 1.5,
            f"{large[2] / small[2]:.2f}",
        ),
        "  b. morning-tip claims (store.transact(uid, claim), 4 at a time), CPU ms per claim",
        f"  {'engine':<10} {'claims':>7} {'claims/s':>9} {'bot CPU':>8} {'server CPU':>11}",
    ]
    for c in figures["claims"]:
        server = "-" if c.server_cpu_ms is None else f"{c.server_cpu_ms:.2f}"
        lines.append(
            f"  {c.engine:<10} {c.sent:>7,} {c.people / c.seconds:>9.0f} {c.bot_cpu_ms:>8.2f} "
            f"{server:>11}"
        )
    up = figures["startup"]
    lines += [
        f"  c. start-up of python -m bot run on PostgreSQL, {up.users:,} people with "
        f"{up.episodes:,} episodes: serving after {up.seconds_to_serving:.2f} s, peak RSS "
        f"{up.peak_rss_mb:.0f} MB, push schedule rebuilt for {up.pushes_rebuilt}",
        check("serving <= 5 s", up.seconds_to_serving <= 5, f"{up.seconds_to_serving:.2f} s"),
        check("peak resident memory <= 300 MB", up.peak_rss_mb <= 300, f"{up.peak_rss_mb:.0f} MB"),
    ]
    r = figures["round_trip"]
    lines += [
        f"  d. copy-store round trip, {r.people:,} people / {r.documents:,} documents: "
        f"file -> PostgreSQL {r.to_postgres_s:.1f} s, PostgreSQL -> file {r.back_to_files_s:.1f} s",
        check(
            "every person's /export JSON byte-identical after the round trip",
            not r.different and r.identical == r.people,
            f"{r.identical:,} of {r.people:,} identical",
        ),
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument(
        "--only",
        choices=["storage", "e2e", "flood", "schedule", "startup", "postgres"],
        action="append",
    )
    parser.add_argument("--dir", type=Path, default=None, help="scratch folder (default: /tmp)")
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    wanted = set(args.only or ["storage", "e2e", "flood", "schedule", "startup", "postgres"])
    started = time.perf_counter()
    load_before = os.getloadavg()
    lines = [
        f"Fibro Twitch Coach benchmarks, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"command: {shlex.join(['python', '-m', 'bench.run', *(argv or sys.argv[1:])])}",
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average at start "
        f"{' '.join(f'{x:.2f}' for x in load_before)}",
        "",
    ]
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        if "storage" in wanted:
            results = bench_store(
                root,
                cfg["store_sizes"],
                users=cfg["users"],
                samples=cfg["store_samples"],
                stock_per_user=True,
            )
            results += bench_tinydb(
                root,
                cfg["tinydb_sizes"],
                budget_s=cfg["tinydb_budget_s"],
                max_samples=cfg["tinydb_max_samples"],
            )
            lines += [*storage_section(results), ""]
            print("\n".join(lines), flush=True)
            lines = []
        if "e2e" in wanted:
            e2e = asyncio.run(bench_e2e(cfg["e2e_users"], cfg["e2e_rounds"], data_root=root))
            lines += [*e2e_section(e2e), ""]
        if "schedule" in wanted:
            lines += [*schedule_section(args.quick), ""]
        if "startup" in wanted:
            r = bench_startup(root, cfg["startup_users"], cfg["startup_episodes"])
            lines += [*startup_section(r), ""]
        if "postgres" in wanted:
            from bench import postgres_bench  # needs the PostgreSQL server binaries

            lines += [*postgres_section(postgres_bench.run(root, cfg)), ""]
        if "flood" in wanted:
            flood = asyncio.run(
                bench_flood(cfg["flood_updates"], cfg["flood_probers"], data_root=root)
            )
            lines += [*flood_section(flood), ""]
    lines.append(
        f"done in {time.perf_counter() - started:.0f} s; load average at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print("\n".join(lines), flush=True)
    return 0


def run_quick(root: Path) -> dict[str, Any]:
    """For the smoke test: every benchmark at tiny sizes; returns the raw results."""
    cfg = QUICK
    storage = bench_store(
        root,
        cfg["store_sizes"],
        users=cfg["users"],
        samples=cfg["store_samples"],
        stock_per_user=True,
    )
    storage += bench_tinydb(
        root,
        cfg["tinydb_sizes"],
        budget_s=cfg["tinydb_budget_s"],
        max_samples=cfg["tinydb_max_samples"],
    )
    e2e = asyncio.run(bench_e2e(cfg["e2e_users"], cfg["e2e_rounds"], data_root=root))
    return {"storage": storage, "e2e": e2e, "table": storage_section(storage) + e2e_section(e2e)}


if __name__ == "__main__":
    sys.exit(main())
