"""PostgresStore's own promises, on a real server: migrations, the typed columns, per-person
serialisation across processes, bounded waits that end in StorageError, no secret in messages.
What every engine promises is in test_storage_contract.py."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

import psycopg
import pytest

from bot.storage import StorageError, UserData
from bot.storage.postgres import PostgresStore, migration_files, safe_url

UID = 4242


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    s = PostgresStore(pg_url).open()
    yield s
    await s.close()


@pytest.fixture
def db(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the test's own, as another process would have."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        yield conn


def one(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    return None if row is None else row[0] if len(row) == 1 else row


# ---------------------------------------------------------------------- migrations


def test_migrations_are_numbered_and_recorded(store: PostgresStore, db: Any) -> None:
    files = migration_files()
    assert [v for v, _, _ in files] == list(range(1, len(files) + 1))
    assert store.schema_version() == files[-1][0]
    rows = db.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(v, name) for v, name, _ in files]
    assert PostgresStore(store.url).open().migrations_applied == []  # nothing twice


def test_two_processes_starting_at_once_apply_migrations_once(pg_cluster: Any) -> None:
    url = pg_cluster.create_database("fresh_migrate")
    stores = [PostgresStore(url) for _ in range(4)]
    threads = [threading.Thread(target=s.open) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    applied = sorted(v for s in stores for v in s.migrations_applied)
    assert applied == [v for v, _, _ in migration_files()]  # each version by exactly one
    for s in stores:
        s.close_sync()
    pg_cluster.drop_database("fresh_migrate")


def test_a_newer_database_is_refused(store: PostgresStore, db: Any) -> None:
    db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'from_the_future')")
    with pytest.raises(StorageError, match="newer"):
        PostgresStore(store.url).open()


def test_an_unmigrated_database_is_refused_without_migrations(pg_cluster: Any) -> None:
    url = pg_cluster.create_database("never_migrated")
    with pytest.raises(StorageError, match="twitch-coach migrate"):
        PostgresStore(url, apply_migrations=False).open()
    pg_cluster.drop_database("never_migrated")


# ---------------------------------------------------------------------- schema


async def test_documents_are_json_kept_verbatim_with_typed_columns(
    store: PostgresStore, db: Any
) -> None:
    await store.save_profile(
        UID,
        {"tz": "Asia/Kathmandu", "tip_time": "07:45", "accepted": True, "active": True,
         "tips_paused_until": "2026-12-01T06:00:00+00:00", "zz": 1, "aa": 2},
    )  # fmt: skip
    await store.insert(
        UID,
        "episodes",
        {"started_at": "2026-11-30T20:00:00+00:00", "tz": "Asia/Kathmandu", "intensity": 7,
         "note": "a \"quote\", a \\ and a NUL \x00"},
    )  # fmt: skip
    row = db.execute(
        "SELECT tz, tip_time, accepted, active, tips_paused_until, profile::text "
        "FROM people WHERE user_id = %s",
        (UID,),
    ).fetchone()
    assert row[:5] == (
        "Asia/Kathmandu",
        clock_time(7, 45),
        True,
        True,
        datetime(2026, 12, 1, 6, tzinfo=UTC),
    )
    assert row[5].endswith('"zz":1,"aa":2}')  # the key order as written
    episode = db.execute(
        "SELECT started_at, local_date, intensity, doc::text FROM episodes WHERE user_id = %s",
        (UID,),
    ).fetchone()
    # 20:00 UTC is already the next day in Kathmandu (+05:45): the local date is the person's.
    assert episode[:3] == (datetime(2026, 11, 30, 20, tzinfo=UTC), date(2026, 12, 1), 7)
    assert '\\"quote\\", a \\\\ and a NUL \\u0000' in episode[3]


async def test_odd_values_leave_typed_columns_empty_not_the_document(
    store: PostgresStore, db: Any
) -> None:
    odd = {"tz": "Nowhere/\x00", "tip_time": "25:99", "active": "yes", "relief_timer_due": 5}
    await store.save_profile(UID, odd)
    assert await store.get_profile(UID) == odd
    row = db.execute(
        "SELECT tz, tip_time, active, relief_timer_due FROM people WHERE user_id = %s", (UID,)
    ).fetchone()
    assert row == (None, None, None, None)
    await store.insert(UID, "episodes", {"started_at": "not a date", "intensity": 99999})
    row = db.execute("SELECT started_at, local_date, intensity FROM episodes").fetchone()
    assert row == (None, None, None)


async def test_unknown_tables_go_to_documents(store: PostgresStore, db: Any) -> None:
    await store.insert(UID, "diary_days", {"day": "2026-11-25"})
    await store.insert(UID, "factors", {"name": "sleep"})
    rows = db.execute("SELECT table_name, id FROM documents ORDER BY table_name").fetchall()
    assert rows == [("diary_days", 1), ("factors", 1)]
    await store.delete_user(UID)
    assert one(db, "SELECT count(*) FROM documents") == 0


async def test_rebuild_index_recomputes_the_typed_columns(store: PostgresStore, db: Any) -> None:
    await store.save_profile(UID, {"tz": "UTC", "tip_time": "08:00"})
    db.execute("UPDATE people SET tz = NULL, tip_time = NULL")
    store.rebuild_index()
    assert db.execute("SELECT tz, tip_time FROM people").fetchone() == ("UTC", clock_time(8))


# ---------------------------------------------------------------------- serialisation


def test_one_person_serialised_across_processes(pg_url: str) -> None:
    """Two stores (two bot processes) bumping one counter: the advisory lock keeps every bump."""
    first, second = PostgresStore(pg_url).open(), PostgresStore(pg_url).open()
    first.save_profile_sync(UID, {"count": 0})

    def bump(data: UserData) -> None:
        count = (data.profile() or {})["count"]
        time.sleep(0.001)  # widen the window a lost update would need
        data.update_profile({"count": count + 1})

    threads = [
        threading.Thread(target=lambda s=s: [s.transact_sync(UID, bump) for _ in range(25)])
        for s in (first, second, first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (first.get_profile_sync(UID) or {})["count"] == 100
    first.close_sync()
    second.close_sync()


async def test_a_person_locked_elsewhere_waits_others_do_not(store: PostgresStore, db: Any) -> None:
    db.execute("SELECT pg_advisory_lock(%s)", (UID,))  # another process is mid-unit for them
    waiting = asyncio.create_task(store.insert(UID, "episodes", {"n": 1}))
    assert await store.insert(UID + 1, "episodes", {"n": 1}) == 1  # someone else: no wait
    await asyncio.sleep(0.3)
    assert not waiting.done()
    db.execute("SELECT pg_advisory_unlock(%s)", (UID,))
    assert await asyncio.wait_for(waiting, 10) == 1


# ---------------------------------------------------------------------- bounded waits


async def test_exhausted_pool_waits_bounded_then_storage_error(pg_url: str, db: Any) -> None:
    """Both connections busy (their people locked by another process): a third unit waits at
    most pool_timeout, then gets StorageError ("couldn't save, try again") and never runs;
    the busy ones finish once the lock goes."""
    store = PostgresStore(pg_url, pool_size=2, pool_timeout=1.0).open()
    try:
        db.execute("SELECT pg_advisory_lock(1), pg_advisory_lock(2)")
        busy = [asyncio.create_task(store.insert(uid, "episodes", {"n": uid})) for uid in (1, 2)]
        await asyncio.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(StorageError, match="no database connection within 1 s"):
            await store.insert(3, "episodes", {"n": 3})
        waited = time.monotonic() - started
        assert 0.5 <= waited <= 2.5, waited
        db.execute("SELECT pg_advisory_unlock(1), pg_advisory_unlock(2)")
        assert await asyncio.wait_for(asyncio.gather(*busy), 10) == [1, 1]
        assert await store.all(3, "episodes") == []  # the refused unit left nothing
        assert await store.insert(3, "episodes", {"n": 3}) == 1  # and works now
    finally:
        store.close_sync()


def test_unreachable_database_is_a_clear_error_without_the_password(pg_cluster: Any) -> None:
    url = f"postgresql://coach:s3cr3t-pw@127.0.0.1:{_closed_port()}/nowhere"
    started = time.monotonic()
    with pytest.raises(StorageError) as caught:
        PostgresStore(url, pool_timeout=1.0).open()
    assert time.monotonic() - started < 10
    assert "s3cr3t-pw" not in str(caught.value) and "coach:***@" in str(caught.value)
    assert safe_url("postgresql://u:p@h/db") == "postgresql://u:***@h/db"
    assert safe_url("postgresql://h/db") == "postgresql://h/db"


def test_uids_beyond_bigint_are_refused(store: PostgresStore) -> None:
    with pytest.raises(ValueError):
        store.get_profile_sync(2**63)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when we return: nothing listens
