"""Which PostgreSQL driver for the store? psycopg 3 (sync, in worker threads) vs asyncpg vs
psycopg 3 async, on the store's own unit of work: save one check-in for a person.

One unit = take the person's advisory lock, make sure the person's row exists, insert the
episode with the next id, commit (what `PostgresStore.insert` does). Measured sequentially
(latency) and with 16 units in flight for 16 different people (throughput, CPU per unit), on a
throwaway cluster with PostgreSQL's durable defaults.

    python -m bench.pg_drivers [--units 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable

from bench.stats import ms, percentile

SCHEMA = """
CREATE TABLE people (user_id bigint PRIMARY KEY, profile json);
CREATE TABLE episodes (
    user_id bigint NOT NULL REFERENCES people ON DELETE CASCADE,
    id integer NOT NULL, started_at timestamptz, doc json NOT NULL,
    PRIMARY KEY (user_id, id));
"""
LOCK = "SELECT pg_advisory_xact_lock(%s)"
PERSON = "INSERT INTO people (user_id) VALUES (%s) ON CONFLICT DO NOTHING"
INSERT = (
    "INSERT INTO episodes (user_id, id, started_at, doc) SELECT %s, coalesce(max(id), 0) + 1, "
    "%s, %s::json FROM episodes WHERE user_id = %s RETURNING id"
)
DOC = json.dumps(
    {"started_at": "2026-11-25T09:00:00+00:00", "tz": "Europe/Berlin", "intensity": 6,
     "regions": ["calves"], "duration": "minutes", "triggers": ["stress"], "tried": [],
     "note": None, "source": "checkin", "created_at": "2026-11-25T09:01:00+00:00",
     "updated_at": "2026-11-25T09:01:00+00:00"}
)  # fmt: skip
STARTED = "2026-11-25T09:00:00+00:00"
CONCURRENCY = 16


def _asyncpg_sql(query: str) -> str:
    n = 0

    def number(_: str) -> str:
        nonlocal n
        n += 1
        return f"${n}"

    import re

    return re.sub(r"%s", number, query)


async def _measure(
    unit: Callable[[int], Awaitable[None]], units: int, users: int
) -> dict[str, float]:
    rng = random.Random(1)
    latencies = []
    for _ in range(units):
        t = time.perf_counter()
        await unit(rng.randrange(users))
        latencies.append(time.perf_counter() - t)
    cpu, wall = time.process_time(), time.perf_counter()
    queue = list(range(users, users + units))

    async def worker() -> None:
        while queue:
            await unit(queue.pop())

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {
        "p50": ms(percentile(latencies, 50)),
        "p99": ms(percentile(latencies, 99)),
        "per_s": units / wall,
        "cpu_ms": ms(cpu / units),
    }


async def psycopg_threads(url: str, units: int, users: int) -> dict[str, float]:
    from concurrent.futures import ThreadPoolExecutor

    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(url, min_size=CONCURRENCY, max_size=CONCURRENCY, open=True)
    executor = ThreadPoolExecutor(CONCURRENCY)
    loop = asyncio.get_running_loop()

    def save(uid: int) -> None:
        with pool.connection() as conn, conn.transaction():
            conn.execute(LOCK, (uid,))
            conn.execute(PERSON, (uid,))
            conn.execute(INSERT, (uid, STARTED, DOC, uid)).fetchone()

    async def unit(uid: int) -> None:
        await loop.run_in_executor(executor, save, uid)

    try:
        return await _measure(unit, units, users)
    finally:
        executor.shutdown()
        pool.close()


async def psycopg_async(url: str, units: int, users: int) -> dict[str, float]:
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(url, min_size=CONCURRENCY, max_size=CONCURRENCY, open=False)
    await pool.open()

    async def unit(uid: int) -> None:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(LOCK, (uid,))
            await conn.execute(PERSON, (uid,))
            await (await conn.execute(INSERT, (uid, STARTED, DOC, uid))).fetchone()

    try:
        return await _measure(unit, units, users)
    finally:
        await pool.close()


async def asyncpg_pool(url: str, units: int, users: int) -> dict[str, float]:
    import asyncpg

    pool = await asyncpg.create_pool(url, min_size=CONCURRENCY, max_size=CONCURRENCY)
    lock, person, insert = map(_asyncpg_sql, (LOCK, PERSON, INSERT))
    from datetime import datetime

    started = datetime.fromisoformat(STARTED)

    async def unit(uid: int) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(lock, uid)
            await conn.execute(person, uid)
            await conn.fetchval(insert, uid, started, DOC, uid)

    try:
        return await _measure(unit, units, users)
    finally:
        await pool.close()


async def main(units: int) -> None:
    import psycopg

    from tests.pgcluster import PgCluster

    with PgCluster(durable=True) as cluster:
        drivers = {
            "psycopg 3 sync, worker threads": psycopg_threads,
            "psycopg 3 async": psycopg_async,
            "asyncpg": asyncpg_pool,
        }
        print(f"{units} saves each; {CONCURRENCY} in flight for the throughput column")
        print(f"{'driver':<34} {'p50 ms':>7} {'p99 ms':>7} {'saves/s':>8} {'CPU ms/save':>11}")
        for n, (name, run) in enumerate(drivers.items()):
            url = cluster.create_database(f"drv{n}")
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(SCHEMA)  # type: ignore[arg-type]
            r = await run(url, units, 1000)
            print(f"{name:<34} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['per_s']:>8.0f} "
                  f"{r['cpu_ms']:>11.3f}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=2000)
    asyncio.run(main(parser.parse_args().units))
