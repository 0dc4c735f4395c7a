"""Benchmark 1, storage growth: how long saving one check-in takes as the data grows.

The coach's Store is measured through its async API exactly as a handler calls it
(`await store.insert(uid, "episodes", episode)`, fsync ON), with 1,000 / 100,000 / 1,000,000
episodes already stored over 10,000 users. Two baselines get the same insert:
- stock TinyDB with the same layout, one file per person (`TinyDB(path)`, its default
  JSONStorage, which also fsyncs), on the same files, the same users in the same order, called the
  same way (in a worker thread, as a handler must call blocking code): what the Store's own work
  (crash-safe replace, locks, index) costs over plain TinyDB;
- stock TinyDB with everything in one file, at growing sizes until its time budget runs out: what
  the per-person layout buys.

Fixtures are written straight to disk in each engine's own file format (fsync off, a few seconds
for a million episodes); only the measured inserts go through the engines.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from bench.stats import ms, percentile
from bot.storage import INDEX_FIELDS, FileStore, Store
from bot.storage.files import INDEX_SHARDS, USER_DIRS

ZONES = ("Europe/Berlin", "America/Chicago", "Asia/Tokyo", "Europe/London")
REGIONS = ("eyelid", "calf", "thigh", "hand", "foot", "arm", "back", "face")
TRIGGERS = ("stress", "poor_sleep", "caffeine", "exercise", "cold")
NOTES = (None, None, "after a long day at work, worse in the evening", "woke up with it again")


@dataclass
class StorageResult:
    engine: str
    stored: int  # episodes already stored when sampling began
    samples: int
    p50_ms: float
    p99_ms: float
    build_s: float  # time to write the fixture (not part of the measurement)
    note: str = ""


def episode(n: int) -> dict[str, Any]:
    """A check-in as the check-in feature stores it (the shared episode contract)."""
    day = 1 + n % 28
    stamp = f"2026-10-{day:02d}T{n % 24:02d}:{n % 60:02d}:00+00:00"
    return {
        "started_at": stamp,
        "tz": ZONES[n % len(ZONES)],
        "intensity": n % 11,
        "regions": [REGIONS[n % len(REGIONS)], REGIONS[(n // 8) % len(REGIONS)]],
        "duration": ("seconds", "minutes", "hours", None)[n % 4],
        "triggers": [TRIGGERS[n % len(TRIGGERS)]],
        "tried": [] if n % 3 else ["calf_stretch"],
        "note": NOTES[n % len(NOTES)],
        "source": "checkin",
        "created_at": stamp,
        "updated_at": stamp,
    }


# Pre-serialised episodes: fixtures of a million documents are joined from these in seconds.
_VARIANTS = [json.dumps(episode(n), ensure_ascii=False, separators=(",", ":")) for n in range(64)]


def _profile(uid: int) -> dict[str, Any]:
    return {
        "user_id": uid,
        "created_at": "2026-09-01T08:00:00+00:00",
        "accepted": True,
        "active": True,
        "tz": ZONES[uid % len(ZONES)],
        "tip_time": "08:00",
        "onboarded": True,
    }


def _episodes_json(count: int, salt: int) -> str:
    return ",".join(f'"{i}":{_VARIANTS[(i + salt) % len(_VARIANTS)]}' for i in range(1, count + 1))


def _write(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def build_store_fixture(
    data_dir: Path, users: int, episodes: int, profile_extra: dict[str, Any] | None = None
) -> float:
    """Write `users` user files holding `episodes` episodes in total (spread evenly) in the Store's
    own format, plus the index; fsync off. `profile_extra` is added to every profile (the
    start-up benchmark switches every push kind on). Returns the seconds it took."""
    started = time.perf_counter()
    for d in range(USER_DIRS):
        (data_dir / "users" / f"{d:02x}").mkdir(mode=0o700, parents=True, exist_ok=True)
    (data_dir / "index").mkdir(mode=0o700, exist_ok=True)
    _write(data_dir / "meta.json", '{"schema":1}')
    per_user, extra = divmod(episodes, users)
    shards: list[dict[str, Any]] = [{} for _ in range(INDEX_SHARDS)]
    for uid in range(1, users + 1):
        profile = {**_profile(uid), **(profile_extra or {})}
        count = per_user + (1 if uid <= extra else 0)
        tables = ['"_meta":{"1":{"schema":1}}', f'"profile":{{"1":{json.dumps(profile)}}}']
        if count:
            tables.append(f'"episodes":{{{_episodes_json(count, uid)}}}')
        path = data_dir / "users" / f"{uid % USER_DIRS:02x}" / f"{uid}.json"
        _write(path, "{" + ",".join(tables) + "}")
        shards[uid % INDEX_SHARDS][str(uid)] = {k: profile[k] for k in INDEX_FIELDS if k in profile}
    for shard, entries in enumerate(shards):
        _write(data_dir / "index" / f"{shard:02d}.json", json.dumps(entries))
    _write(data_dir / "index" / "fields.json", json.dumps(list(INDEX_FIELDS)))
    # Flush the fixture to disk now: otherwise the kernel writes hundreds of MB back in the
    # background while we measure, and every fsync of the measurement waits behind it.
    os.sync()
    return time.perf_counter() - started


async def measure_store(store: Store, users: int, samples: int, seed: int = 1) -> list[float]:
    """Seconds per `await store.insert(...)` for random users, one save at a time (any engine,
    open; the file store with fsync ON)."""
    rng = random.Random(seed)
    for n in range(20):  # warm-up: thread pool, imports, first-touch of code paths
        await store.insert(rng.randint(1, users), "episodes", episode(n))
    timings = []
    for n in range(samples):
        uid = rng.randint(1, users)
        doc = episode(n)
        started = time.perf_counter()
        await store.insert(uid, "episodes", doc)
        timings.append(time.perf_counter() - started)
    return timings


async def measure_stock_per_user(
    data_dir: Path, users: int, samples: int, seed: int = 1
) -> list[float]:
    """Seconds per stock TinyDB insert into the person's own file, for the same people as
    `measure_store` (same seed), each in a worker thread as a handler would call it."""
    rng = random.Random(seed)

    def insert(uid: int, doc: dict[str, Any]) -> None:
        with TinyDB(data_dir / "users" / f"{uid % USER_DIRS:02x}" / f"{uid}.json") as db:
            db.table("episodes").insert(doc)

    for n in range(20):  # the same warm-up as the Store's
        await asyncio.to_thread(insert, rng.randint(1, users), episode(n))
    timings = []
    for n in range(samples):
        uid = rng.randint(1, users)
        doc = episode(n)
        started = time.perf_counter()
        await asyncio.to_thread(insert, uid, doc)
        timings.append(time.perf_counter() - started)
    return timings


COACH = "coach Store (file per user, fsync)"
STOCK_PER_USER = "stock TinyDB, file per user (fsync)"
STOCK_ONE_FILE = "stock TinyDB, one file (fsync)"


def _result(engine: str, size: int, timings: list[float], build: float) -> StorageResult:
    p50, p99 = ms(percentile(timings, 50)), ms(percentile(timings, 99))
    return StorageResult(engine, size, len(timings), p50, p99, build)


def bench_store(
    root: Path,
    sizes: list[int],
    users: int = 10_000,
    samples: int = 2_000,
    *,
    stock_per_user: bool = False,
) -> list[StorageResult]:
    """The coach's Store, size by size; with `stock_per_user`, stock TinyDB next to it on the
    same per-person files (after the Store, for the same people)."""
    results = []
    data_dir = root / "store"
    for size in sizes:
        build = build_store_fixture(data_dir, users, size)
        with FileStore(data_dir, fsync=True) as store:
            results.append(
                _result(COACH, size, asyncio.run(measure_store(store, users, samples)), build)
            )
        if stock_per_user:
            timings = asyncio.run(measure_stock_per_user(data_dir, users, samples))
            results.append(_result(STOCK_PER_USER, size, timings, build))
    return results


def build_tinydb_fixture(path: Path, episodes: int) -> float:
    """One stock TinyDB JSON file with `episodes` documents in table "episodes"."""
    started = time.perf_counter()
    _write(path, '{"episodes":{' + _episodes_json(episodes, 0) + "}}")
    os.sync()
    return time.perf_counter() - started


def bench_tinydb(
    root: Path, sizes: list[int], budget_s: float = 90.0, max_samples: int = 200
) -> list[StorageResult]:
    """Stock TinyDB (default JSONStorage: whole file read and rewritten, fsync'd, per insert) at
    each size while the time budget lasts; sizes it cannot reach are reported as such."""
    results = []
    path = root / "tinydb.json"
    deadline = time.perf_counter() + budget_s
    per_insert = 0.0  # seconds, measured at the previous size
    previous = 0
    for size in sizes:
        remaining = deadline - time.perf_counter()
        # Cost grows ~linearly with the file; need at least 5 samples plus the fixture.
        estimate = per_insert * size / previous * 7 if previous else 0.0
        if estimate > remaining:
            results.append(
                StorageResult(
                    STOCK_ONE_FILE,
                    size,
                    0,
                    float("nan"),
                    float("nan"),
                    0.0,
                    note=f"not reached: ~{estimate / 7:.1f} s per insert expected, "
                    f"{remaining:.0f} s of budget left",
                )
            )
            continue
        build = build_tinydb_fixture(path, size)
        db = TinyDB(path)  # stock: JSONStorage
        try:
            table = db.table("episodes")
            started = time.perf_counter()
            table.insert(episode(0))  # also warms TinyDB's next-id cache
            first = time.perf_counter() - started
            share = max(remaining / 3, first * 5)
            count = int(min(max_samples, max(5, share / max(first, 1e-6))))
            timings = []
            for n in range(count):
                if time.perf_counter() > deadline and len(timings) >= 5:
                    break
                started = time.perf_counter()
                table.insert(episode(n))
                timings.append(time.perf_counter() - started)
        finally:
            db.close()
        per_insert, previous = percentile(timings, 50), size
        results.append(
            StorageResult(
                STOCK_ONE_FILE,
                size,
                len(timings),
                ms(percentile(timings, 50)),
                ms(percentile(timings, 99)),
                build,
            )
        )
    return results
