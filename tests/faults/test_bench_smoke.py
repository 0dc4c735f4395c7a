"""`make bench` at tiny sizes, so the benchmarks keep working (the real run is `make bench`)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from bench.e2e_bench import COACH_UNTUNED
from bench.flood_bench import bench_flood
from bench.run import flood_section, main, run_quick
from bench.storage_bench import STOCK_PER_USER
from bench.workload import ONBOARDING, coach_session


def test_benchmarks_run_at_tiny_sizes(tmp_path: Path) -> None:
    results = run_quick(tmp_path)
    coach = [r for r in results["storage"] if r.engine.startswith("coach")]
    assert [r.stored for r in coach] == [100, 1_000]
    assert all(r.samples == 50 and 0 < r.p50_ms <= r.p99_ms for r in coach)
    stock = [r for r in results["storage"] if r.engine.startswith("stock")]
    assert stock and not math.isnan(stock[0].p99_ms)
    per_user = [r for r in stock if r.engine == STOCK_PER_USER]  # same sizes, same samples
    assert [(r.stored, r.samples) for r in per_user] == [(100, 50), (1_000, 50)]
    by_bot = {r.bot: r for r in results["e2e"]}
    assert set(by_bot) == {
        "PTB echo bot (defaults)",
        "PTB echo bot (concurrent_updates=256)",
        "PTB button echo (answer+edit, 256)",
        COACH_UNTUNED,
        "coach",
    }
    for r in by_bot.values():
        assert r.errors == 0 and r.updates == 5 * len(coach_session(1)), r
    assert any("[met]" in line or "[MISSED]" in line for line in results["table"])


def test_bench_command_prints_one_table(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["--quick", "--only", "startup", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{os.cpu_count()} cores" in out and "command: python -m bench.run --quick" in out
    assert "4b. Start-up of the real process" in out
    found = re.search(r"push schedule rebuilt for 300 users \(([^)]*)\)", out)
    assert found, out
    counts = dict(part.split() for part in found.group(1).split(", "))
    assert counts.keys() >= {"tip", "weekly"} and set(counts.values()) == {"300"}, counts


def test_postgres_part_runs_at_tiny_sizes(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["--quick", "--only", "postgres", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "5. PostgreSQL beside the file store" in out
    assert "[met] every person's /export JSON byte-identical after the round trip" in out
    assert re.search(r"push schedule rebuilt for 300 users", out), out
    claims = [
        line.split()
        for line in out.splitlines()
        if line.strip().startswith(("files ", "postgres "))
    ]
    assert [c[0] for c in claims] == ["files", "postgres"] and all(c[1] == "50" for c in claims)


async def test_flood_benchmark_at_tiny_size(tmp_path: Path) -> None:
    results = await bench_flood(50, 3, data_root=tmp_path)
    by = {(r.bot, r.phase): r for r in results}
    assert all(r.probes > 0 for r in results)
    # Flood control as shipped: 20 updates per 10 s (onboarding's 4 count too, unless it took
    # that long), then one note; with it off, all 50 answered.
    answered = by[("coach as shipped", "flood")].flood_answered
    assert 20 - len(ONBOARDING) + 1 <= answered <= 20 + 1
    assert by[("coach, flood control off", "flood")].flood_answered == 50
    assert any("p99 while one person floods <= 2x idle" in line for line in flood_section(results))
