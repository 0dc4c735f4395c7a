"""`make bench` at tiny sizes, so the benchmarks keep working (the real run is `make bench`)."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from bench.run import main, run_quick
from bench.workload import coach_session


def test_benchmarks_run_at_tiny_sizes(tmp_path: Path) -> None:
    results = run_quick(tmp_path)
    coach = [r for r in results["storage"] if r.engine.startswith("coach")]
    assert [r.stored for r in coach] == [100, 1_000]
    assert all(r.samples == 50 and 0 < r.p50_ms <= r.p99_ms for r in coach)
    stock = [r for r in results["storage"] if r.engine.startswith("stock")]
    assert stock and not math.isnan(stock[0].p99_ms)
    by_bot = {r.bot: r for r in results["e2e"]}
    assert set(by_bot) == {
        "PTB echo bot (defaults)",
        "PTB echo bot (concurrent_updates=256)",
        "PTB button echo (answer+edit, 256)",
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
