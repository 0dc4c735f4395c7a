"""Benchmark 4, as a person would see it: start the real bot process (`python -m bot run`) on a
data folder of N users and time it until it is serving, i.e. until its first getUpdates reaches
the loopback Bot API. Every start-up hook (push schedule, relief timers) runs before polling
starts, so this is "serving with all schedules rebuilt". Every person is switched on for every
push kind the bot registers (its `opt_in`). Peak memory is the process's own VmHWM, read just
before it is stopped.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from bench.bench_schedule import push_kinds
from bench.e2e_bench import TOKEN
from bench.storage_bench import build_store_fixture
from bot.sandbox import LoopbackBotAPI

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class StartupResult:
    users: int
    episodes: int
    seconds_to_serving: float
    peak_rss_mb: float
    pushes_rebuilt: str | None  # from the bot's own log line ("100000 users (tip 100000, ...)")


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(
    data_dir: Path, log_path: Path, extra_env: dict[str, str] | None = None
) -> tuple[float, float]:
    async with LoopbackBotAPI(TOKEN, record_calls=False) as server:
        env = server.env_for(data_dir, PYTHONPATH=str(ROOT), **(extra_env or {}))
        with log_path.open("wb") as log:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
            )
            try:
                while server.count("getUpdates") == 0:
                    if proc.poll() is not None:
                        raise RuntimeError(f"the bot exited: {log_path.read_text()[-2000:]}")
                    await asyncio.sleep(0.005)
                seconds = time.perf_counter() - started
                await asyncio.sleep(0.5)  # anything started right after serving counts too
                peak = _vm_hwm_mb(proc.pid)
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    return seconds, peak


def bench_startup(root: Path, users: int, episodes: int) -> StartupResult:
    data_dir = root / "startup"
    build_store_fixture(data_dir, users, episodes, every_push_on(root))
    log_path = root / "startup.log"
    seconds, peak = asyncio.run(_run(data_dir, log_path))
    return StartupResult(users, episodes, seconds, peak, pushes_rebuilt(log_path))


def every_push_on(root: Path) -> dict[str, Any]:
    """Profile fields that switch every registered push kind on (at 08:00)."""
    fields: dict[str, Any] = {}
    for kind in push_kinds(root).values():
        fields.update(kind.opt_in(clock_time(8, 0)))
    return fields


def pushes_rebuilt(log_path: Path) -> str | None:
    """What the bot's own start-up log line says it rebuilt ("300 users (tip 300, ...)")."""
    log = log_path.read_text(errors="replace")
    found = re.search(r"push schedule rebuilt for (\d+ users \([^)]*\))", log)
    return found.group(1) if found else None
