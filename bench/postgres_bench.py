"""Benchmark 5, PostgreSQL beside the file store, on the same workloads (`--only postgres`).

A throwaway cluster with PostgreSQL's durable defaults (fsync, synchronous commit) on this
machine, the bot talking to it over TCP on 127.0.0.1:

a. Saving one check-in (`await store.insert(uid, "episodes", ...)`) with 1,000 and 1,000,000
   episodes already stored over 10,000 people: p50/p99, as benchmark 1 does for the file store.
b. CPU per morning-tip claim (`store.transact(uid, claim)`, 4 at a time as the scheduler's
   workers run them) on both engines: the bot process's CPU, and for PostgreSQL the server's too.
c. Start-up of the real process (`python -m bot run` with COACH_DATABASE_URL) on 100,000 people
   with 1,000,000 episodes: time to serving, peak RSS (as benchmark 4 does for files).
d. copy-store round trip file -> PostgreSQL -> file on 10,000 people / 100,000 episodes with
   every kind of document: the /export JSON of every person byte-identical, and the time.

Fixtures go into PostgreSQL with COPY (seconds for a million episodes); only the measured
operations go through the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.startup_bench import StartupResult, _run, every_push_on, pushes_rebuilt
from bench.stats import ms, percentile
from bench.storage_bench import (
    _VARIANTS,
    _profile,
    bench_store,
    build_store_fixture,
    episode,
    measure_store,
)
from bot.content import load_content
from bot.pushes import claim
from bot.storage import FileStore, Store
from bot.storage.copy import copy_store
from bot.storage.postgres import PEOPLE_COLUMNS, TYPED_TABLES, PostgresStore
from bot.telegram.callbacks import CallbackCodec
from bot.telegram.insights.mydata import export_json
from bot.telegram.tips import tip_kind
from tests.pgcluster import PgCluster

EPISODE_COLUMNS = TYPED_TABLES["episodes"].columns


@dataclass
class ClaimResult:
    engine: str
    people: int
    seconds: float
    bot_cpu_ms: float  # per claim, the bot's process (all threads)
    server_cpu_ms: float | None  # per claim, PostgreSQL's processes (None for files)
    sent: int


@dataclass
class RoundTrip:
    people: int
    documents: int
    to_postgres_s: float
    back_to_files_s: float
    identical: int  # people whose /export JSON is byte-identical after the round trip
    different: list[int] = field(default_factory=list)


# ---------------------------------------------------------------------- fixtures via COPY


def _people_row(uid: int, profile: dict[str, Any]) -> tuple[Any, ...]:
    return (uid, json.dumps(profile), *(convert(profile) for _, convert in PEOPLE_COLUMNS))


def load_postgres(url: str, users: int, episodes: int, profile: Any = _profile) -> float:
    """`users` people (profiles as benchmark 1's) holding `episodes` episodes in total, written
    with COPY, derived columns included. Returns seconds."""
    import psycopg

    started = time.perf_counter()
    variants = [(text, *(f(json.loads(text)) for _, f in EPISODE_COLUMNS)) for text in _VARIANTS]
    per_user, extra = divmod(episodes, users)
    people_cols = ", ".join(["user_id", "profile", *(name for name, _ in PEOPLE_COLUMNS)])
    episode_cols = ", ".join(["user_id", "id", "doc", *(name for name, _ in EPISODE_COLUMNS)])
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY people ({people_cols}) FROM STDIN") as copy:  # type: ignore[arg-type]
            for uid in range(1, users + 1):
                copy.write_row(_people_row(uid, profile(uid)))
        with cur.copy(f"COPY episodes ({episode_cols}) FROM STDIN") as copy:  # type: ignore[arg-type]
            for uid in range(1, users + 1):
                for i in range(1, per_user + (1 if uid <= extra else 0) + 1):
                    copy.write_row((uid, i, *variants[(i + uid) % len(variants)]))
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


def _truncate(url: str) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("TRUNCATE people CASCADE")


# ---------------------------------------------------------------------- a. saves


def bench_saves(
    cluster: PgCluster, sizes: list[int], users: int, samples: int
) -> list[tuple[int, float, float, float]]:
    """(stored, p50 ms, p99 ms, fixture seconds) per size."""
    url = cluster.create_database("saves")
    PostgresStore(url).open().close_sync()  # the schema
    results = []
    for size in sizes:
        _truncate(url)
        build = load_postgres(url, users, size)
        store = PostgresStore(url).open()
        try:
            timings = asyncio.run(measure_store(store, users, samples))
        finally:
            store.close_sync()
        results.append((size, ms(percentile(timings, 50)), ms(percentile(timings, 99)), build))
    return results


# ---------------------------------------------------------------------- b. claims


def _server_cpu_seconds(cluster: PgCluster) -> float:
    """utime + stime of the postmaster and all its children (every backend)."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((cluster.data / "postmaster.pid").read_text().split()[0])
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(proc.name), int(fields[1])
        if pid == postmaster or ppid == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _due_profile(uid: int) -> dict[str, Any]:
    # 08:00 in each zone, asked at 08:01 local: due now (see _claims' clock).
    return {**_profile(uid), "tz": "Europe/Berlin", "tip_time": "08:00"}


async def _claims(store: Store, people: int, kind: Any, workers: int = 4) -> tuple[float, int]:
    now = datetime(2026, 6, 10, 6, 1, tzinfo=UTC)  # 08:01 in Berlin
    queue = list(range(1, people + 1))
    sent = 0

    async def worker() -> None:
        nonlocal sent
        while queue:
            uid = queue.pop()
            result = await store.transact(uid, lambda data, uid=uid: claim(kind, uid, data, now))
            sent += bool(result.messages)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started, sent


def bench_claims(cluster: PgCluster, root: Path, people: int) -> list[ClaimResult]:
    """The same claims on both engines: `people` due now, 10 episodes each (topic weights)."""
    results = []
    data_dir = root / "claims"
    # The file fixture with due profiles: benchmark 1's writer, then the profiles rewritten.
    build_store_fixture(data_dir, people, people * 10)
    with FileStore(data_dir, fsync=False) as files:
        for uid in range(1, people + 1):
            files.save_profile_sync(uid, _due_profile(uid))
    url = cluster.create_database("claims")
    PostgresStore(url).open().close_sync()
    load_postgres(url, people, people * 10, profile=_due_profile)
    content = load_content()
    kind = tip_kind(content, CallbackCodec(b"bench"), content.tips)  # the production push kind
    for engine, store in (("files", FileStore(data_dir)), ("postgres", PostgresStore(url))):
        with store:
            server_before = _server_cpu_seconds(cluster)
            cpu_before = time.process_time()
            seconds, sent = asyncio.run(_claims(store, people, kind))
            cpu = time.process_time() - cpu_before
            server = _server_cpu_seconds(cluster) - server_before
        results.append(
            ClaimResult(
                engine,
                people,
                seconds,
                ms(cpu) / people,
                ms(server) / people if engine == "postgres" else None,
                sent,
            )
        )
    return results


# ---------------------------------------------------------------------- c. start-up


def bench_pg_startup(cluster: PgCluster, root: Path, users: int, episodes: int) -> StartupResult:
    url = cluster.create_database("startup")
    PostgresStore(url).open().close_sync()
    every_push = every_push_on(root)
    load_postgres(url, users, episodes, profile=lambda uid: {**_profile(uid), **every_push})
    log_path = root / "startup-pg.log"
    seconds, peak = asyncio.run(
        _run(root / "startup-pg", log_path, extra_env={"COACH_DATABASE_URL": url})
    )
    return StartupResult(users, episodes, seconds, peak, pushes_rebuilt(log_path))


# ---------------------------------------------------------------------- d. copy-store round trip

ODD_NOTES = ['it\'s "bad"', "C:\\path\\", "nul\x00here", "⚡ " + "x" * 4000, "=SUM(A1)"]


def person(uid: int, episodes: int) -> dict[str, list[dict[str, Any]]]:
    """One person with every kind of document, ids with holes, odd text here and there."""
    rng = random.Random(uid)
    start = datetime(2026, 9, 1, tzinfo=UTC)
    profile = {**_profile(uid), "tips_not_for_me": ["sleep_03"] if uid % 5 == 0 else []}
    if uid % 7 == 0:
        profile["relief_timer_due"] = (start + timedelta(minutes=uid)).isoformat()
    eps = []
    for i in range(1, episodes + 1):
        doc = episode(uid * 31 + i)
        if rng.random() < 0.05:
            doc["note"] = rng.choice(ODD_NOTES)
        eps.append({"id": i, **doc})
    if len(eps) > 3 and uid % 3 == 0:
        del eps[1]  # a deleted episode leaves a hole in the ids
    tables: dict[str, list[dict[str, Any]]] = {"profile": [{"id": 1, **profile}]}
    if eps:
        tables["episodes"] = eps
    tables["tips"] = [
        {"id": n, "tip_id": f"sleep_{n:02d}", "topic": "sleep", "kind": "morning",
         "sent_at": (start + timedelta(days=n)).isoformat(),
         "local_date": (start + timedelta(days=n)).date().isoformat(), "feedback": None}
        for n in range(1, 1 + uid % 4)
    ]  # fmt: skip
    if not tables["tips"]:
        del tables["tips"]
    if uid % 4 == 0:
        tables["relief_runs"] = [
            {"id": 1, "routine_id": "calf_stretch", "region": "calves_feet",
             "started_at": start.isoformat(), "status": "finished", "outcome": "better"}
        ]  # fmt: skip
    if uid % 6 == 0:
        tables["red_flags"] = [
            {"id": 1, "asked_at": start.isoformat(), "answers": {"weakness": False},
             "any_yes": False}
        ]  # fmt: skip
    if uid % 5 == 1:  # a table the code does not know yet (another branch's diary)
        tables["diary_days"] = [{"id": 1, "day": "2026-09-02", "sleep": 2, "note": "ok"}]
    if uid % 8 == 0:
        tables["state"] = [{"id": 1, "checkin": {"step": 2, "note": ODD_NOTES[uid % 5]}}]
    return dict(sorted(tables.items()))


def population(users: int, episodes: int) -> Iterator[tuple[int, dict[str, Any]]]:
    per_user, extra = divmod(episodes, users)
    for uid in range(1, users + 1):
        yield uid, person(uid, per_user + (1 if uid <= extra else 0))


def export_bytes(store: Store, uid: int) -> bytes:
    """The person's /export JSON exactly as the bot sends it (a fixed instant)."""
    tables = store.export_user_sync(uid)
    profile = store.get_profile_sync(uid)
    return export_json(uid, profile, tables, datetime(2026, 11, 25, 12, 0, tzinfo=UTC))


def bench_round_trip(cluster: PgCluster, root: Path, users: int, episodes: int) -> RoundTrip:
    source_dir, back_dir = root / "copy-source", root / "copy-back"
    documents = 0
    with FileStore(source_dir, fsync=False) as source:
        for uid, tables in population(users, episodes):
            source.import_user_sync(uid, tables)
            documents += sum(len(docs) for docs in tables.values())
    url = cluster.create_database("roundtrip")
    with FileStore(source_dir) as source, PostgresStore(url) as pg, FileStore(back_dir) as back:
        started = time.perf_counter()
        copy_store(source, pg)
        to_pg = time.perf_counter() - started
        started = time.perf_counter()
        copy_store(pg, back)
        to_files = time.perf_counter() - started
        different = [
            uid for uid in source.user_ids() if export_bytes(source, uid) != export_bytes(back, uid)
        ]
        users_back = len(back.user_ids())
    return RoundTrip(users_back, documents, to_pg, to_files, users_back - len(different), different)


# ---------------------------------------------------------------------- all of it


def run(root: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    with PgCluster(durable=True) as cluster:
        file_saves = {}
        for size in cfg["store_sizes_pg"]:
            [r] = bench_store(root, [size], users=cfg["users"], samples=cfg["store_samples"])
            file_saves[size] = (r.p50_ms, r.p99_ms)
        return {
            "saves": bench_saves(
                cluster, cfg["store_sizes_pg"], cfg["users"], cfg["store_samples"]
            ),
            "file_saves": file_saves,
            "claims": bench_claims(cluster, root, cfg["claim_people"]),
            "startup": bench_pg_startup(
                cluster, root, cfg["startup_users"], cfg["startup_episodes"]
            ),
            "round_trip": bench_round_trip(cluster, root, cfg["copy_users"], cfg["copy_episodes"]),
        }
