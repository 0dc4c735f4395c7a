"""copy-store between the file store and a real PostgreSQL: byte-identical /export for every
person after a round trip, verification that catches a bad copy, resuming, and the commands
(`copy-store`, `migrate`, pg_dump/pg_restore as the README shows them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bench.postgres_bench import export_bytes, population
from bot.storage import FileStore, StorageError
from bot.storage.copy import CopyError, copy_person, copy_store
from bot.storage.postgres import PostgresStore
from tests.pgcluster import PgCluster

ROOT = Path(__file__).resolve().parents[2]


def fill(store: FileStore | PostgresStore, users: int, episodes: int) -> None:
    for uid, tables in population(users, episodes):
        store.import_user_sync(uid, tables)


def test_round_trip_file_postgres_file_is_byte_identical(tmp_path: Path, pg_url: str) -> None:
    with FileStore(tmp_path / "source", fsync=False) as source:
        fill(source, 300, 3000)  # every kind of document, odd notes, id holes, a state
    with (
        FileStore(tmp_path / "source") as source,
        PostgresStore(pg_url) as pg,
        FileStore(tmp_path / "back", fsync=False) as back,
    ):
        there = copy_store(source, pg)
        again = copy_store(pg, back)
        assert (there.people, there.copied, there.already_there) == (300, 300, 0)
        assert (again.people, again.copied, again.documents) == (300, 300, there.documents)
        for uid in source.user_ids():
            original = export_bytes(source, uid)
            assert export_bytes(pg, uid) == original, uid
            assert export_bytes(back, uid) == original, uid
        assert dict(back.index_entries()) == dict(source.index_entries())
        assert dict(pg.index_entries()) == dict(source.index_entries())


def test_copy_resumes_where_it_stopped_and_leaves_extra_people_alone(
    tmp_path: Path, pg_url: str
) -> None:
    with FileStore(tmp_path / "source", fsync=False) as source, PostgresStore(pg_url) as pg:
        fill(source, 40, 200)
        for uid in source.user_ids()[:15]:  # an earlier run that was interrupted
            copy_person(source, pg, uid)
        pg.save_profile_sync(999_999, {"tz": "UTC"})  # someone only the destination has
        pg.insert_sync(3, "episodes", {"changed": "after the first run"})  # a stale copy
        report = copy_store(source, pg, workers=2)
        assert (report.people, report.already_there, report.copied) == (40, 14, 26)
        assert report.only_in_destination == 1
        assert pg.export_user_sync(3) == source.export_user_sync(3)
        assert copy_store(source, pg).copied == 0  # nothing left to do


class _Lossy(FileStore):
    """A destination that silently drops a document: what verification is there for."""

    def import_user_sync(self, uid: int, tables: Any) -> None:
        tables = {k: v[:-1] if k == "episodes" and len(v) > 1 else v for k, v in tables.items()}
        super().import_user_sync(uid, tables)


def test_a_copy_that_does_not_match_stops_with_counts_not_data(tmp_path: Path, pg_url: str) -> None:
    with PostgresStore(pg_url) as pg, _Lossy(tmp_path / "dest", fsync=False) as dest:
        pg.insert_sync(5, "episodes", {"note": "SECRET_HEALTH 1"})
        pg.insert_sync(5, "episodes", {"note": "SECRET_HEALTH 2"})
        with pytest.raises(CopyError) as caught:
            copy_store(pg, dest)
    message = str(caught.value)
    assert "person 5" in message and "'episodes': 1" in message and "'episodes': 2" in message
    assert "SECRET" not in message
    assert isinstance(caught.value, StorageError)


# ---------------------------------------------------------------------- the commands


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_migrate_and_copy_store_both_ways(tmp_path: Path, pg_cluster: PgCluster) -> None:
    url = pg_cluster.create_database("cli_copy")
    first = cli("migrate", COACH_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "schema version 1 (1)" in first.stdout
    assert "nothing to apply" in cli("migrate", "--database-url", url).stdout
    assert "needs no migration" in cli("migrate").stdout

    with FileStore(tmp_path / "data", fsync=False) as source:
        fill(source, 25, 100)
    there = cli("copy-store", "--from", str(tmp_path / "data"), "--to", url)
    assert there.returncode == 0, there.stderr
    assert "copied 25 of 25 people" in there.stdout and "SHA-256 match" in there.stdout
    assert "copied 0 of 25 people" in cli("copy-store", "--from", str(tmp_path / "data"),
                                          "--to", url).stdout  # fmt: skip
    back = cli("copy-store", "--from", url, "--to", str(tmp_path / "back"))
    assert back.returncode == 0, back.stderr
    with FileStore(tmp_path / "data") as source, FileStore(tmp_path / "back") as copy:
        assert all(export_bytes(source, u) == export_bytes(copy, u) for u in source.user_ids())

    missing = cli("copy-store", "--from", str(tmp_path / "nothing-here"), "--to", url)
    assert missing.returncode == 2 and "no data folder" in missing.stderr
    # The data is in PostgreSQL: the folder backup says where to look instead.
    refused = cli("backup", str(tmp_path / "b.tar.gz"), COACH_DATABASE_URL=url)
    assert refused.returncode == 2 and "pg_dump" in refused.stderr
    pg_cluster.drop_database("cli_copy")


def test_pg_dump_and_pg_restore_as_the_readme_shows(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.create_database("dumped")
    with PostgresStore(url) as store:
        fill(store, 20, 100)
        before = {uid: export_bytes(store, uid) for uid in store.user_ids()}
    dump = tmp_path / "coach.dump"
    bin_dir = pg_cluster.bin
    subprocess.run([bin_dir / "pg_dump", "--format=custom", f"--file={dump}", url], check=True)
    restored = pg_cluster.create_database("restored")
    subprocess.run(
        [bin_dir / "pg_restore", "--no-owner", "--exit-on-error", f"--dbname={restored}", dump],
        check=True,
    )
    with PostgresStore(restored) as store:
        assert {uid: export_bytes(store, uid) for uid in store.user_ids()} == before
    with psycopg.connect(restored) as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone() == (1,)
    pg_cluster.drop_database("dumped")
    pg_cluster.drop_database("restored")
