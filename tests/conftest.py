"""Both storage engines for every test that asks for `backend` (directly or through a fixture such
as the e2e `harness`): such a test runs once on the file store and once on a real PostgreSQL.

PostgreSQL is one throwaway cluster per test session (tests/pgcluster.py), started only when a
test needs it, and a fresh database per test, copied from a template that already holds the
schema. A background thread keeps one database ready so the copy does not add to a test's time.

- `@pytest.mark.files_only`: the test is about files, modes or folders; it runs on files only.
- Tests under tests/faults run on files unless marked `@pytest.mark.backends("files", "postgres")`.
- `COACH_TEST_BACKENDS=files` leaves PostgreSQL out (e.g. a machine without it); the default
  is both, and a missing PostgreSQL is then an error, never a silent skip.
"""

from __future__ import annotations

import itertools
import os
import queue
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Secret
from bot.storage import FileStore, Store
from tests.pgcluster import PgCluster

ALL_BACKENDS = ("files", "postgres")
TEMPLATE = "coach_template"


def enabled_backends() -> tuple[str, ...]:
    raw = os.environ.get("COACH_TEST_BACKENDS", ",".join(ALL_BACKENDS))
    chosen = tuple(b.strip() for b in raw.split(",") if b.strip())
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown or not chosen:
        raise pytest.UsageError(f"COACH_TEST_BACKENDS: unknown {sorted(unknown)}")
    return chosen


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "files_only: about files, modes or folders: file store only")
    config.addinivalue_line("markers", "backends(*names): run on these storage engines")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    node = metafunc.definition
    if node.get_closest_marker("files_only"):
        wanted: tuple[str, ...] = ("files",)
    elif marker := node.get_closest_marker("backends"):
        wanted = tuple(marker.args)
    elif "faults" in Path(str(node.fspath)).parts:
        wanted = ("files",)
    else:
        wanted = ALL_BACKENDS
    chosen = [b for b in wanted if b in enabled_backends()]
    metafunc.parametrize("backend", chosen, indirect=True)


# ---------------------------------------------------------------------- PostgreSQL


class Databases:
    """Fresh databases copied from the template, one made ahead in a background thread."""

    def __init__(self, cluster: PgCluster) -> None:
        self.cluster = cluster
        self._names = (f"test_{n}" for n in itertools.count(1))
        self._ready: queue.Queue[str | BaseException] = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._make_ahead, daemon=True, name="pg-dbs")
        self._thread.start()

    def _make_ahead(self) -> None:
        while not self._stop.is_set():
            name = next(self._names)
            try:
                self.cluster.create_database(name, template=TEMPLATE)
                item: str | BaseException = name
            except BaseException as exc:  # handed to the test that waits for it
                item = exc
            while not self._stop.is_set():
                try:
                    self._ready.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue

    def take(self) -> str:
        item = self._ready.get(timeout=120)
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL for the session, with the schema in a template database."""
    from bot.storage.postgres import PostgresStore

    with PgCluster() as cluster:
        url = cluster.create_database(TEMPLATE)
        PostgresStore(url).open().close_sync()  # applies the migrations once
        yield cluster


@pytest.fixture(scope="session")
def pg_databases(pg_cluster: PgCluster) -> Iterator[Databases]:
    dbs = Databases(pg_cluster)
    yield dbs
    dbs.close()


@pytest.fixture
def pg_url(pg_databases: Databases) -> Iterator[str]:
    """A fresh, migrated database of the session's cluster; dropped after the test."""
    name = pg_databases.take()
    yield pg_databases.cluster.url(name)
    pg_databases.cluster.drop_database(name)


# ---------------------------------------------------------------------- the backend of a test


@dataclass(frozen=True)
class Backend:
    """Where one test keeps its data: a folder, and for PostgreSQL a database URL too (the
    heartbeat file always lives in the folder)."""

    name: str
    data_dir: Path
    url: str | None = None

    def store(self, **kwargs: Any) -> Store:
        """A new store on this test's data (not yet open)."""
        if self.url is None:
            return FileStore(self.data_dir, **kwargs)
        from bot.storage.postgres import PostgresStore

        return PostgresStore(self.url, **kwargs)

    def settings(self) -> dict[str, Any]:
        """Overrides for `Settings` (e.g. `LoopbackBotAPI.settings_for(data_dir, **...)`)."""
        return {} if self.url is None else {"database_url": Secret(self.url)}

    def env(self) -> dict[str, str]:
        """Extra environment for a `python -m bot` child process."""
        return {} if self.url is None else {"COACH_DATABASE_URL": self.url}


@pytest.fixture
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    name = getattr(request, "param", "files")
    if name == "files":
        return Backend("files", tmp_path / "data")
    return Backend("postgres", tmp_path / "data", request.getfixturevalue("pg_url"))


# ---------------------------------------------------------------------- the counts per engine


def _engine_of(nodeid: str) -> str | None:
    params = nodeid.rpartition("[")[2].rstrip("]").split("-") if nodeid.endswith("]") else []
    return next((name for name in ALL_BACKENDS if name in params), None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """`make test` shows how many tests ran on each engine."""
    counts: Counter[tuple[str, str]] = Counter()
    for outcome in ("passed", "failed", "error", "skipped", "xfailed"):
        for report in terminalreporter.stats.get(outcome, []):
            if outcome == "passed" and getattr(report, "when", "call") != "call":
                continue
            engine = _engine_of(getattr(report, "nodeid", ""))
            if engine:
                counts[(engine, outcome)] += 1
    if not counts:
        return
    terminalreporter.section("storage engines")
    for name in ALL_BACKENDS:
        parts = [f"{counts[(name, o)]} {o}" for o in ("passed", "failed", "error", "skipped")]
        line = ", ".join(p for p in parts if not p.startswith("0 ")) or "not run"
        terminalreporter.write_line(f"{name:<9} {line}")
