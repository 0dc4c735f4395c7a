"""The scheduler benchmark (bench/bench_schedule.py) at a tiny size, so it cannot rot."""

from __future__ import annotations

import asyncio

from bench import bench_schedule


async def test_the_benchmark_runs_and_reports() -> None:
    # The benchmark runs its own event loops (and a child process), so keep it off this one.
    figures = await asyncio.to_thread(bench_schedule.run, 300, 20, 20, 0.3)
    rebuild = figures["rebuild"]
    assert rebuild["users"] == rebuild["scheduled"] == 300
    assert rebuild["peak_rss_mb"] < 300
    for key in ("unlimited", "limited"):
        assert figures[key]["sent"] == 20, key
    report = bench_schedule.table(figures)
    assert "Rebuild of the tip schedule (300 users" in report
    assert "AIORateLimiter" in report
