"""The push scheduler benchmark (bench/bench_schedule.py) at a tiny size, so it cannot rot, and
its accounting checked: every push due is sent, none lost, none twice."""

from __future__ import annotations

import asyncio

from bench import bench_schedule


async def test_the_benchmark_runs_and_reports() -> None:
    # The benchmark runs its own event loops (and a child process), so keep it off this one.
    figures = await asyncio.to_thread(bench_schedule.run, 300, 20, 20, 0.3, 1)
    rebuild = figures["rebuild"]
    assert rebuild["users"] == 300
    assert set(rebuild["scheduled"]) == set(figures["kinds"]) >= {"tip", "weekly"}
    assert all(n == 300 for n in rebuild["scheduled"].values()), rebuild["scheduled"]
    assert rebuild["peak_rss_mb"] < 300
    for key in ("unlimited", "limited"):
        burst = figures[key]
        assert set(burst["kinds"]) == set(figures["kinds"]), "every kind is due in the burst"
        assert burst["due"] >= 20 and burst["delivered"] == burst["due"], key
        assert burst["messages"] >= burst["delivered"], key
        assert (burst["unsent"], burst["lost"], burst["duplicated"]) == (0, 0, 0), key
    precision = figures["precision"]
    assert precision["pushes"] == 5 and precision["late_min_s"] >= 0
    assert precision["late_max_s"] < 60, "every push of the precision run arrived"
    report = bench_schedule.table(figures)
    assert "Rebuild of the push schedule (300 people" in report
    assert "AIORateLimiter" in report and "unsent/lost/dup" in report
