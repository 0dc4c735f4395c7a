"""`PostgresStore`: the `Store` interface over PostgreSQL (chosen by `COACH_DATABASE_URL`).

* Driver: psycopg 3 with psycopg_pool, synchronous, in worker threads. `transact`'s `fn` is
  synchronous domain code calling `UserData` methods, so each method simply runs its SQL on the
  unit's connection; on this workload it was also faster and cheaper in CPU than asyncpg and
  psycopg's async API (`python -m bench.pg_drivers`, README "Scale out").
* One transaction per unit of work, opened with `pg_advisory_xact_lock(user_id)`: one person's
  units are serialised across every process sharing the database, and different people never
  wait for each other. Inside a process an asyncio lock per person (`bot.locks.KeyedLocks`)
  queues coroutines first, so a queued unit holds neither a thread nor a connection. Single
  reads take no lock.
* Parameterised queries only; table names are this module's own constants.
* The schema is numbered SQL files in `migrations/`, applied at open (and by
  `twitch-coach migrate`) in one transaction under an advisory lock, recorded in
  `schema_migrations`. A database newer than the code is refused.
* Documents are `json`, not `jsonb`: kept exactly as written, so the key order (and so the
  /export bytes) and "\\u0000" escapes survive; jsonb would reorder keys and refuse \\u0000.
  Typed columns derived from the documents serve what is queried (migration 001 explains).
* A bounded wait: a unit that cannot start within `pool_timeout` (a busy pool, a server that
  is down) or meets any database error raises StorageError, so the person gets the same
  "couldn't save, try again" as with a full disk, and nothing of that unit is written. Every
  connection is checked as it leaves the pool, so after the server comes back the next unit
  works without restarting the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as clock_time
from functools import lru_cache
from pathlib import Path
from typing import Any, Self, TypeVar
from zoneinfo import ZoneInfo

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from bot.locks import KeyedLocks
from bot.storage.base import (
    PROFILE,
    STATE,
    Export,
    Store,
    check_export,
    check_table,
    check_uid,
    index_entry,
    with_id,
    without_id,
)
from bot.storage.errors import StorageError
from bot.storage.userdata import UserData

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
MIGRATION_LOCK = (0x636F6163, 0x68)  # two-int advisory key: never collides with a user id lock
BIGINT = range(-(2**63), 2**63)
SESSION_SETTINGS = {
    # A unit stuck behind another process's lock, or a runaway statement, ends as a
    # StorageError instead of holding a connection forever.
    "lock_timeout": "10s",
    "statement_timeout": "30s",
    "idle_in_transaction_session_timeout": "60s",
}


# ---------------------------------------------------------------------- derived typed columns


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and "\x00" not in value else None


def _instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _hhmm(value: Any) -> clock_time | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d\d:\d\d", value):
        return None
    try:
        return clock_time.fromisoformat(value)
    except ValueError:
        return None


def _flag(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _small(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and -32768 <= value <= 32767
    return value if ok else None


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):
        return None


def _local_date(doc: dict[str, Any]) -> date | None:
    instant, tz = _instant(doc.get("started_at")), _text(doc.get("tz"))
    zone = _zone(tz) if tz else None
    return instant.astimezone(zone).date() if instant and zone else None


Column = tuple[str, Callable[[dict[str, Any]], Any]]


def _field(name: str, convert: Callable[[Any], Any]) -> Column:
    return name, lambda doc: convert(doc.get(name))


PEOPLE_COLUMNS: tuple[Column, ...] = (
    _field("tz", _text),
    _field("tip_time", _hhmm),
    _field("accepted", _flag),
    _field("active", _flag),
    _field("tips_enabled", _flag),
    _field("tips_paused_until", _instant),
    _field("relief_timer_due", _instant),
    _field("last_tip_date", _day),
)


@dataclass(frozen=True)
class _Table:
    """The SQL of one stored table: a typed table of its own, or `documents` under a name."""

    relation: str
    columns: tuple[Column, ...] = ()
    generic: bool = False

    def keys(self, uid: int, name: str) -> tuple[Any, ...]:
        return (uid, name) if self.generic else (uid,)

    def derived(self, doc: dict[str, Any]) -> list[Any]:
        return [convert(doc) for _, convert in self.columns]

    @property
    def where(self) -> sql.Composable:
        return sql.SQL("user_id = %s AND table_name = %s" if self.generic else "user_id = %s")

    def _q(self, template: str, **parts: sql.Composable) -> sql.Composed:
        rel = sql.Identifier(self.relation)
        return sql.SQL(template).format(rel=rel, where=self.where, **parts)

    def queries(self) -> dict[str, sql.Composed]:
        key_cols = ["user_id", "table_name"] if self.generic else ["user_id"]
        cols = [*key_cols, "id", "doc", *(name for name, _ in self.columns)]
        values = [sql.Placeholder()] * len(cols)
        values[cols.index("doc")] = sql.SQL("%s::json")
        names = sql.SQL(", ").join(map(sql.Identifier, cols))
        derived = [name for name, _ in self.columns]
        set_derived = sql.SQL("").join(
            sql.SQL(", {} = %s").format(sql.Identifier(name)) for name in derived
        )
        next_values = list(values)
        next_values[cols.index("id")] = sql.SQL("coalesce(max(id), 0) + 1")
        return {
            "all": self._q("SELECT id, doc FROM {rel} WHERE {where} ORDER BY id"),
            "get": self._q("SELECT doc FROM {rel} WHERE {where} AND id = %s"),
            "count": self._q("SELECT count(*) FROM {rel} WHERE {where}"),
            "delete": self._q("DELETE FROM {rel} WHERE {where} AND id = %s"),
            "update": self._q(
                "UPDATE {rel} SET doc = %s::json{set_derived} WHERE {where} AND id = %s",
                set_derived=set_derived,
            ),
            # The next id is computed under the person's lock: max + 1, as TinyDB does.
            "insert": self._q(
                "INSERT INTO {rel} ({names}) SELECT {values} FROM {rel} WHERE {where} RETURNING id",
                names=names,
                values=sql.SQL(", ").join(next_values),
            ),
            "import": self._q(
                "INSERT INTO {rel} ({names}) VALUES ({values})",
                names=names,
                values=sql.SQL(", ").join(values),
            ),
        }


TYPED_TABLES: dict[str, _Table] = {
    "episodes": _Table(
        "episodes",
        (_field("started_at", _instant), ("local_date", _local_date), _field("intensity", _small)),
    ),
    "relief_runs": _Table(
        "relief_runs", (_field("started_at", _instant), _field("followup_due_at", _instant))
    ),
    "tips": _Table("tips", (_field("sent_at", _instant), _field("local_date", _day))),
    "red_flags": _Table("red_flags", (_field("asked_at", _instant),)),
}
DOCUMENTS = _Table("documents", generic=True)
_QUERIES = {table.relation: table.queries() for table in (*TYPED_TABLES.values(), DOCUMENTS)}


def _table(name: str) -> _Table:
    check_table(name)
    if "\x00" in name:
        raise ValueError("invalid table name: contains NUL")
    return TYPED_TABLES.get(name, DOCUMENTS)


def _dumps(doc: Any) -> str:
    """Document -> JSON text, refusing what JSON can't hold before anything is sent."""
    text = json.dumps(doc, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text.encode("utf-8")  # a lone surrogate raises UnicodeEncodeError (a ValueError), as on disk
    return text


_PEOPLE_COLS = sql.SQL(", ").join(sql.Identifier(name) for name, _ in PEOPLE_COLUMNS)
_PEOPLE_SET = sql.SQL(", ").join(
    sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(name)) for name, _ in PEOPLE_COLUMNS
)
_SAVE_PROFILE = sql.SQL(
    "INSERT INTO people (user_id, profile, {cols}) VALUES (%s, %s::json, {ph}) "
    "ON CONFLICT (user_id) DO UPDATE SET profile = EXCLUDED.profile, {set}"
).format(
    cols=_PEOPLE_COLS,
    ph=sql.SQL(", ").join([sql.Placeholder()] * len(PEOPLE_COLUMNS)),
    set=_PEOPLE_SET,
)
_SAVE_STATE = (
    "INSERT INTO people (user_id, state) VALUES (%s, %s::json) "
    "ON CONFLICT (user_id) DO UPDATE SET state = EXCLUDED.state"
)
_ENSURE_PERSON = "INSERT INTO people (user_id) VALUES (%s) ON CONFLICT DO NOTHING"
_EXPORT = sql.SQL(" UNION ALL ").join(
    [
        sql.SQL(
            "SELECT 'profile', 1, profile FROM people WHERE user_id = %s AND profile IS NOT NULL"
        ),
        sql.SQL("SELECT 'state', 1, state FROM people WHERE user_id = %s AND state IS NOT NULL"),
        *(
            sql.SQL("SELECT {name}, id, doc FROM {rel} WHERE user_id = %s").format(
                name=sql.Literal(name), rel=sql.Identifier(table.relation)
            )
            for name, table in TYPED_TABLES.items()
        ),
        sql.SQL("SELECT table_name, id, doc FROM documents WHERE user_id = %s"),
    ]
)
_EXPORT_PARAMS = 3 + len(TYPED_TABLES)
_TABLE_NAMES = sql.SQL(" UNION ALL ").join(
    [
        *(
            sql.SQL("SELECT {name} WHERE EXISTS (SELECT 1 FROM {rel} WHERE user_id = %s)").format(
                name=sql.Literal(name), rel=sql.Identifier(table.relation)
            )
            for name, table in TYPED_TABLES.items()
        ),
        sql.SQL("SELECT DISTINCT table_name FROM documents WHERE user_id = %s"),
    ]
)
_UNREAD = object()


class _PgUserData:
    """`UserData` over one person's rows, inside the unit's transaction."""

    def __init__(self, conn: psycopg.Connection[Any], uid: int, *, writable: bool = True) -> None:
        self.conn = conn
        self.uid = uid
        self.writable = writable
        self._row: Any = _UNREAD  # (profile, state) once read
        self._person_exists = False
        self.old_entry: Any = _UNREAD  # the index entry before the first profile write

    # ---- internals

    def _execute(self, query: Any, params: tuple[Any, ...]) -> psycopg.Cursor[Any]:
        return self.conn.execute(query, params)

    def _people_row(self) -> list[Any]:
        if self._row is _UNREAD:
            row = self._execute(
                "SELECT profile, state FROM people WHERE user_id = %s", (self.uid,)
            ).fetchone()
            self._person_exists = row is not None
            self._row = list(row) if row else [None, None]
        return self._row  # type: ignore[no-any-return]

    def _write(self) -> None:
        if not self.writable:
            raise RuntimeError("a read-only unit of work tried to write")

    def _ensure_person(self) -> None:
        self._write()
        if not self._person_exists:
            self._execute(_ENSURE_PERSON, (self.uid,))
            self._person_exists = True

    # ---- profile

    def profile(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._people_row()[0])

    def save_profile(self, profile: dict[str, Any]) -> None:
        if not isinstance(profile, dict):
            raise TypeError("profile must be a dict")
        self._store_profile(without_id(profile))

    def update_profile(self, changes: dict[str, Any]) -> dict[str, Any]:
        current = self._people_row()[0]
        if current is None:
            raise KeyError("this user has no profile")
        new = {**current, **without_id(changes)}
        self._store_profile(new)
        return copy.deepcopy(new)

    def _store_profile(self, profile: dict[str, Any]) -> None:
        self._write()
        text = _dumps(profile)
        row = self._people_row()
        if self.old_entry is _UNREAD:
            self.old_entry = index_entry(row[0])
        derived = [convert(profile) for _, convert in PEOPLE_COLUMNS]
        self._execute(_SAVE_PROFILE, (self.uid, text, *derived))
        self._person_exists = True
        row[0] = json.loads(text)

    # ---- flow state

    def state(self, key: str) -> Any | None:
        state = self._people_row()[1] or {}
        return copy.deepcopy(state.get(key))

    def set_state(self, values: dict[str, Any]) -> None:
        if not all(isinstance(key, str) for key in values):
            raise TypeError("state keys must be str (JSON object keys)")
        self._store_state({**(self._people_row()[1] or {}), **values})

    def clear_state(self, *keys: str) -> None:
        state = self._people_row()[1] or {}
        if not any(key in state for key in keys):
            return  # nothing to clear: no write
        self._store_state({k: v for k, v in state.items() if k not in keys})

    def _store_state(self, state: dict[str, Any]) -> None:
        self._write()
        text = _dumps(state) if state else None  # don't keep an empty state document
        self._execute(_SAVE_STATE, (self.uid, text))
        self._person_exists = True
        self._people_row()[1] = None if text is None else json.loads(text)

    # ---- tables of documents

    def insert(self, table: str, doc: dict[str, Any]) -> int:
        spec = _table(table)
        body = without_id(doc)
        text = _dumps(body)
        self._ensure_person()
        keys = spec.keys(self.uid, table)
        params = (*keys, text, *spec.derived(body), *keys)
        row = self._execute(_QUERIES[spec.relation]["insert"], params).fetchone()
        assert row is not None
        return int(row[0])

    def all(self, table: str) -> list[dict[str, Any]]:
        spec = _table(table)
        rows = self._execute(_QUERIES[spec.relation]["all"], spec.keys(self.uid, table))
        return [with_id(doc_id, doc) for doc_id, doc in rows]

    def get(self, table: str, doc_id: int) -> dict[str, Any] | None:
        spec = _table(table)
        if not _is_int(doc_id):
            return None
        query = _QUERIES[spec.relation]["get"]
        row = self._execute(query, (*spec.keys(self.uid, table), doc_id)).fetchone()
        return None if row is None else with_id(doc_id, row[0])

    def update(self, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        spec = _table(table)
        current = self.get(table, doc_id)
        if current is None:
            return False
        new = {**without_id(current), **without_id(changes)}
        text = _dumps(new)
        self._write()
        query = _QUERIES[spec.relation]["update"]
        self._execute(query, (text, *spec.derived(new), *spec.keys(self.uid, table), doc_id))
        return True

    def remove(self, table: str, doc_id: int) -> bool:
        spec = _table(table)
        if not _is_int(doc_id):
            return False
        self._write()
        query = _QUERIES[spec.relation]["delete"]
        return self._execute(query, (*spec.keys(self.uid, table), doc_id)).rowcount > 0

    def count(self, table: str) -> int:
        spec = _table(table)
        row = self._execute(_QUERIES[spec.relation]["count"], spec.keys(self.uid, table)).fetchone()
        return int(row[0]) if row else 0

    def tables(self) -> list[str]:
        params = (self.uid,) * (len(TYPED_TABLES) + 1)
        return sorted(name for (name,) in self._execute(_TABLE_NAMES, params))

    # ---- whole person

    def export(self) -> Export:
        rows = self._execute(_EXPORT, (self.uid,) * _EXPORT_PARAMS).fetchall()
        tables: Export = {}
        for name, doc_id, doc in sorted(rows, key=lambda r: (r[0], r[1])):
            tables.setdefault(name, []).append(with_id(doc_id, doc))
        return tables

    def replace_all(self, tables: Export) -> None:
        """Everything of the person becomes `tables` (ids kept): copy-store's import."""
        self._people_row()
        if self.old_entry is _UNREAD:
            self.old_entry = index_entry(self._row[0])
        self._execute("DELETE FROM people WHERE user_id = %s", (self.uid,))
        self._person_exists = False
        self._row = [None, None]
        if not tables:
            return
        profile = tables.get(PROFILE)
        state = tables.get(STATE)
        if profile:
            self._store_profile(without_id(profile[0]))
        if state:
            self._store_state(without_id(state[0]))
        self._ensure_person()
        for name, docs in tables.items():
            if name in (PROFILE, STATE):
                continue
            spec = _table(name)
            keys = spec.keys(self.uid, name)
            rows = []
            for doc in docs:
                body = without_id(doc)
                rows.append((*keys, doc["id"], _dumps(body), *spec.derived(body)))
            with self.conn.cursor() as cur:
                cur.executemany(_QUERIES[spec.relation]["import"], rows)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in BIGINT


# ---------------------------------------------------------------------- migrations


def migration_files() -> list[tuple[int, str, Path]]:
    """(version, name, path) of every numbered SQL file, ascending."""
    found = []
    for path in MIGRATIONS_DIR.glob("*.sql"):
        match = re.fullmatch(r"(\d+)_(\w+)\.sql", path.name)
        if match:
            found.append((int(match[1]), match[2], path))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise StorageError(f"migrations must be numbered 1, 2, 3...: found {versions}")
    return found


def migrate(conn: psycopg.Connection[Any]) -> list[int]:
    """Apply the missing migrations in one transaction under an advisory lock, so two processes
    starting at once apply each exactly once. Returns the versions applied now."""
    files = migration_files()
    latest = files[-1][0] if files else 0
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", MIGRATION_LOCK)
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
            "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        applied = {v for (v,) in conn.execute("SELECT version FROM schema_migrations")}
        if applied and max(applied) > latest:
            raise StorageError(
                f"the database schema is version {max(applied)}, newer than this code knows "
                f"({latest}): run the newer version of the bot"
            )
        done = []
        for version, name, path in files:
            if version in applied:
                continue
            conn.execute(path.read_text(encoding="utf-8"))  # type: ignore[arg-type]  # our file
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (version, name)
            )
            done.append(version)
    return done


def schema_version(conn: psycopg.Connection[Any]) -> int:
    """The newest applied migration; 0 for a database never migrated."""
    if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
        return 0
    row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------- the store


def safe_url(url: str) -> str:
    """The URL without its password, for messages."""
    return re.sub(r"(://[^/:@]*):[^@/]*@", r"\1:***@", url)


class PostgresStore(Store):
    """`Store` over PostgreSQL; see the module docstring."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 8,
        pool_timeout: float = 5.0,
        apply_migrations: bool = True,
    ) -> None:
        super().__init__()
        if not url.startswith(("postgresql://", "postgres://")):
            raise StorageError("the database URL must start with postgresql://")
        self.url = url
        self.pool_size = pool_size
        self.pool_timeout = pool_timeout
        self.apply_migrations = apply_migrations
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._alocks = KeyedLocks()
        self._local = threading.local()
        self.migrations_applied: list[int] = []

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> Self:
        """Connect (waiting at most `pool_timeout`), then bring the schema up to date."""
        if self._pool is not None:
            return self
        pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=self.pool_size,
            timeout=self.pool_timeout,
            # Give up on a failed reconnection soon: the pool then connects again on demand,
            # so a server that is back is used within a unit instead of after a long backoff.
            reconnect_timeout=max(2 * self.pool_timeout, 5.0),
            kwargs=self._connect_options(),
            configure=_configure,
            check=ConnectionPool.check_connection,
            open=False,
            name="coach-store",
        )
        try:
            pool.open(wait=True, timeout=self.pool_timeout)
            with pool.connection() as conn:
                if self.apply_migrations:
                    self.migrations_applied = migrate(conn)
                current = schema_version(conn)
        except (PoolTimeout, psycopg.Error) as exc:
            pool.close()
            raise StorageError(
                f"cannot use the database at {safe_url(self.url)}: {type(exc).__name__}"
            ) from None
        except BaseException:
            pool.close()
            raise
        latest = migration_files()[-1][0]
        if current != latest:
            pool.close()
            raise StorageError(
                f"the database schema is version {current}, this code needs {latest}: "
                "run `twitch-coach migrate`"
            )
        self._pool = pool
        self._executor = ThreadPoolExecutor(self.pool_size, thread_name_prefix="coach-pg")
        return self

    def _connect_options(self) -> dict[str, Any]:
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self.url)
        options: dict[str, Any] = {"autocommit": True}  # units open their own transactions
        if "connect_timeout" not in given:  # an unreachable host fails within the wait bound
            options["connect_timeout"] = max(1, round(self.pool_timeout))
        if "application_name" not in given:  # what pg_stat_activity shows operators
            options["application_name"] = "twitch-coach"
        return options

    def close_sync(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    async def close(self) -> None:
        await asyncio.to_thread(self.close_sync)  # waits for units in flight

    def describe(self) -> str:
        return f"the PostgreSQL database {safe_url(self.url)}"

    # ------------------------------------------------------------------ units of work

    async def _run(self, uid: int, func: Callable[..., T], *args: Any) -> T:
        check_uid(uid)
        if self._executor is None:
            raise StorageError("Store is not open; call open() first")
        # The whole wait (behind this person's earlier units, for a thread, for a connection)
        # is bounded by pool_timeout; a unit that starts late simply fails, it never runs later.
        deadline = time.monotonic() + self.pool_timeout
        async with contextlib.AsyncExitStack() as held:
            try:
                async with asyncio.timeout_at(_loop_time(deadline)):
                    await held.enter_async_context(self._alocks.hold(uid))
            except TimeoutError:
                raise StorageError(self._busy) from None
            job = self._executor.submit(self._in_worker, deadline, func, args)
            waiting = asyncio.wrap_future(job)
            done, _ = await asyncio.wait({waiting}, timeout=deadline - time.monotonic())
            if not done and job.cancel():  # still queued for a thread: it never runs
                raise StorageError(self._busy)
            # Running (or done): its own waits are bounded (pool, lock and statement
            # timeouts), and only its real outcome may be reported, never a guess.
            return await waiting

    @property
    def _busy(self) -> str:
        return f"no database connection within {self.pool_timeout:g} s (busy or unreachable)"

    def _in_worker(self, deadline: float, func: Callable[..., T], args: tuple[Any, ...]) -> T:
        self._local.deadline = deadline
        try:
            return func(*args)
        finally:
            self._local.deadline = None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; pool and database errors become StorageError (no data in the
        message: a server's error text can quote the values)."""
        if self._pool is None:
            raise StorageError("Store is not open; call open() first")
        deadline = getattr(self._local, "deadline", None)
        timeout = self.pool_timeout if deadline is None else deadline - time.monotonic()
        if timeout <= 0:
            raise StorageError(self._busy)
        try:
            with self._pool.connection(timeout=timeout) as conn:
                yield conn
        except PoolTimeout:
            raise StorageError(self._busy) from None
        except psycopg.Error as exc:
            raise StorageError(
                f"database error: {type(exc).__name__} (SQLSTATE {exc.sqlstate})"
            ) from None

    def _user_op(self, uid: int, fn: Callable[[UserData], T], *, sync_index: bool = False) -> T:
        # sync_index: the index is the person's own row here, written in the same transaction,
        # so it cannot go stale; nothing to repair.
        check_uid(uid)
        if uid not in BIGINT:
            raise ValueError("uid out of range for the database")
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (uid,))
            data = _PgUserData(conn, uid)
            result = fn(data)
        self._notify(uid, data)
        return result

    def _user_read(self, uid: int, fn: Callable[[UserData], T]) -> T:
        check_uid(uid)
        if uid not in BIGINT:
            raise ValueError("uid out of range for the database")
        with self._connection() as conn:
            return fn(_PgUserData(conn, uid, writable=False))

    def _notify(self, uid: int, data: _PgUserData) -> None:
        if data.old_entry is _UNREAD:
            return  # the profile was not written
        new = index_entry(data._people_row()[0])
        if new == data.old_entry:
            return
        for listener in self.index_listeners:
            try:
                listener(uid, None if new is None else dict(new))
            except Exception:  # a listener's bug must not fail the person's save
                log.exception("index listener failed")

    # ------------------------------------------------------------------ whole person

    def export_user_sync(self, uid: int) -> Export:
        return self._user_read(uid, lambda u: u.export())  # type: ignore[attr-defined]

    def import_user_sync(self, uid: int, tables: Export) -> None:
        check_export(tables)
        self._user_op(uid, lambda u: u.replace_all(tables))  # type: ignore[attr-defined]

    def delete_user_sync(self, uid: int) -> None:
        self._user_op(uid, lambda u: u.replace_all({}))  # type: ignore[attr-defined]

    # ------------------------------------------------------------------ whole store

    def index_entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """~0.6 s for 100,000 people: the profiles as text parsed here (twice as fast as
        projecting the fields in SQL or letting the driver parse json)."""
        query = "SELECT user_id, profile::text FROM people WHERE profile IS NOT NULL"
        with self._connection() as conn:
            rows = conn.execute(query).fetchall()
        loads = json.loads
        return ((uid, index_entry(loads(text)) or {}) for uid, text in rows)

    def user_ids(self) -> list[int]:
        with self._connection() as conn:
            return [uid for (uid,) in conn.execute("SELECT user_id FROM people ORDER BY user_id")]

    def user_count(self) -> int:
        with self._connection() as conn:
            row = conn.execute("SELECT count(*) FROM people").fetchone()
        return int(row[0]) if row else 0

    def verify_all(self) -> list[Path]:
        """Nothing to set aside: the database checks every document as it is written."""
        return []

    def rebuild_index(self) -> None:
        """Recompute every person's derived scheduler columns from the profile (e.g. after a
        migration that adds one)."""
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name, _ in PEOPLE_COLUMNS
        )
        update = sql.SQL("UPDATE people SET {} WHERE user_id = %s").format(assignments)
        with self._connection() as conn:
            rows = conn.execute("SELECT user_id, profile FROM people WHERE profile IS NOT NULL")
            params = [
                (*(convert(profile) for _, convert in PEOPLE_COLUMNS), uid)
                for uid, profile in rows.fetchall()
            ]
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(update, params)

    def schema_version(self) -> int:
        with self._connection() as conn:
            return schema_version(conn)


def _loop_time(deadline: float) -> float:
    """A time.monotonic() deadline on the running loop's clock."""
    loop = asyncio.get_running_loop()
    return loop.time() + (deadline - time.monotonic())


def _configure(conn: psycopg.Connection[Any]) -> None:
    for name, value in SESSION_SETTINGS.items():
        conn.execute(sql.SQL("SET {} = {}").format(sql.Identifier(name), sql.Literal(value)))


__all__ = ["PostgresStore", "migrate", "migration_files", "safe_url"]
