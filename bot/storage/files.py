"""`FileStore`: the embedded default engine of `Store`, one crash-safe TinyDB file per person.

Layout under the data folder (folders 0700, files 0600):

    meta.json                  {"schema": LAYOUT_VERSION}
    lock                       flock'd while a Store is open: one process per data folder
    users/<uid % 256 hex>/<uid>.json
                               one small TinyDB file per user: "_meta", "profile", "state"
                               and any feature tables ("episodes", "tips", ...)
    index/<uid % 64>.json      {"<uid>": {INDEX_FIELDS of the profile}} for the schedulers
    index/fields.json          the INDEX_FIELDS the shards were built with; when they differ
                               from this code's, `open` rebuilds every shard from the user files
    .<name>/                   copies of this layout kept by `twitch-coach restore` (the data
                               it replaced, `.before-restore-<time>`, and a killed restore's
                               staging folder): never read, but /forget removes the person
                               from them too (`delete_user`)

A user's index shard is fully determined by the user's folder (64 divides 256), so a lost
shard is rebuilt from just 4 user folders.

Every operation on a user is: load the file, run a function against a TinyDB over that data in
memory, write the file once (atomically) if anything changed. It runs in a worker thread while
holding that user's lock, so read-modify-write never loses an update.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import fcntl
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self, TypeVar

from tinydb import TinyDB
from tinydb.operations import delete as delete_field
from tinydb.storages import Storage
from tinydb.table import Document

from bot.locks import KeyedLocks
from bot.storage.atomic import (
    DIR_MODE,
    FILE_MODE,
    TMP_MARKER,
    fsync_dir,
    is_temp_name,
    read_json,
    write_json_atomic,
)
from bot.storage.base import (
    INDEX_FIELDS,
    PROFILE,
    RESERVED_TABLES,
    SINGLE_DOC_ID,
    STATE,
    Export,
    Store,
    check_export,
    check_table,
    check_uid,
    index_entry,
    without_id,
)
from bot.storage.errors import StorageError, StorageWriteError
from bot.storage.userdata import UserData

log = logging.getLogger(__name__)
T = TypeVar("T")

LAYOUT_VERSION = 1  # folder layout (meta.json)
SCHEMA_VERSION = 1  # content of a user file (its "_meta" table)
# MIGRATIONS[n] turns a user file's raw data (a dict of tables) from schema n into n + 1, in place.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], None]] = {}

META = "_meta"  # {"schema": SCHEMA_VERSION}, one document with SINGLE_DOC_ID like profile and state

USER_DIRS = 256
INDEX_SHARDS = 64
_USER_FILE = re.compile(r"-?\d+\.json")


class _BufferStorage(Storage):
    """TinyDB storage over an in-memory dict that remembers whether anything was written."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.written = False

    def read(self) -> dict[str, Any]:
        return self.data

    def write(self, data: dict[str, Any]) -> None:
        self.data = data
        self.written = True


class _TinyUserData:
    """`UserData` over one person's TinyDB (in memory until the unit of work ends)."""

    def __init__(self, db: TinyDB) -> None:
        self.db = db  # the store's own whole-file operations (export) reach it directly

    def profile(self) -> dict[str, Any] | None:
        return _plain(self.db.table(PROFILE).get(doc_id=SINGLE_DOC_ID))

    def save_profile(self, profile: dict[str, Any]) -> None:
        if not isinstance(profile, dict):
            raise TypeError("profile must be a dict")
        table = self.db.table(PROFILE)
        table.truncate()
        table.insert(Document(without_id(profile), doc_id=SINGLE_DOC_ID))

    def update_profile(self, changes: dict[str, Any]) -> dict[str, Any]:
        table = self.db.table(PROFILE)
        if not table.contains(doc_id=SINGLE_DOC_ID):
            raise KeyError("this user has no profile")
        table.update(without_id(changes), doc_ids=[SINGLE_DOC_ID])
        return dict(table.get(doc_id=SINGLE_DOC_ID) or {})

    def state(self, key: str) -> Any | None:
        doc = self.db.table(STATE).get(doc_id=SINGLE_DOC_ID)
        return None if doc is None else doc.get(key)

    def set_state(self, values: dict[str, Any]) -> None:
        if not all(isinstance(key, str) for key in values):
            raise TypeError("state keys must be str (JSON object keys)")
        table = self.db.table(STATE)
        if table.contains(doc_id=SINGLE_DOC_ID):
            table.update(dict(values), doc_ids=[SINGLE_DOC_ID])
        else:
            table.insert(Document(dict(values), doc_id=SINGLE_DOC_ID))

    def clear_state(self, *keys: str) -> None:
        table = self.db.table(STATE)
        doc = table.get(doc_id=SINGLE_DOC_ID)
        present = [key for key in keys if doc is not None and key in doc]
        if not present:
            return  # nothing to clear: no write
        assert doc is not None
        if len(doc) == len(present):
            self.db.drop_table(STATE)  # don't keep an empty state document around
            return
        for key in present:
            table.update(delete_field(key), doc_ids=[SINGLE_DOC_ID])

    def insert(self, table: str, doc: dict[str, Any]) -> int:
        return self._table(table).insert(without_id(doc))

    def all(self, table: str) -> list[dict[str, Any]]:
        check_table(table)
        return self.all_docs(table)

    def all_docs(self, name: str) -> list[dict[str, Any]]:
        """Any table's documents (profile and state too), ids ascending."""
        return [_with_id(d) for d in sorted(self.db.table(name).all(), key=lambda d: d.doc_id)]

    def get(self, table: str, doc_id: int) -> dict[str, Any] | None:
        doc = self._table(table).get(doc_id=doc_id)
        return None if doc is None else _with_id(doc)

    def update(self, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        tbl = self._table(table)
        if not tbl.contains(doc_id=doc_id):
            return False
        tbl.update(without_id(changes), doc_ids=[doc_id])
        return True

    def remove(self, table: str, doc_id: int) -> bool:
        tbl = self._table(table)
        if not tbl.contains(doc_id=doc_id):
            return False
        tbl.remove(doc_ids=[doc_id])
        return True

    def count(self, table: str) -> int:
        return len(self._table(table))

    def tables(self) -> list[str]:
        names = self.db.tables() - RESERVED_TABLES
        return sorted(name for name in names if len(self.db.table(name)))

    def _table(self, name: str) -> Any:
        check_table(name)
        return self.db.table(name)


class FileStore(Store):
    """Per-user TinyDB files plus a sharded index (see the module docstring)."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        super().__init__()
        self.data_dir = Path(data_dir)
        self.fsync = fsync
        # Two lock layers per user: the asyncio lock queues coroutines without tying up worker
        # threads; the thread lock protects the file itself (sync twins, and a worker that keeps
        # running after its awaiting task was cancelled).
        self._alocks = KeyedLocks()
        self._tlocks = KeyedLocks(threading.Lock)
        self._shard_locks = [threading.Lock() for _ in range(INDEX_SHARDS)]
        self._lock_fd: int | None = None

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> Self:
        """Create/check the folder layout, take the process lock, heal the index. Returns self."""
        if self._lock_fd is not None:
            return self
        self._make_dir(self.data_dir)
        self._take_process_lock()
        try:
            self._check_layout_meta()
            self._make_dir(self.data_dir / "index")
            self._make_dir(self.data_dir / "users")
            for d in range(USER_DIRS):
                self._make_dir(self._user_dir(d))
            self._remove_stale_temp_files()
            self._check_index_fields()
            for shard in range(INDEX_SHARDS):
                self._read_shard(shard)  # a corrupt shard is moved aside and rebuilt here
        except BaseException:
            self.close_sync()
            raise
        return self

    def close_sync(self) -> None:
        """Release the data folder (idempotent)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # also drops the flock
            self._lock_fd = None

    def describe(self) -> str:
        return f"the data folder {self.data_dir}"

    # ------------------------------------------------------------------ whole-user operations

    def export_user_sync(self, uid: int) -> Export:
        def op(u: _TinyUserData) -> Export:
            names = sorted(u.db.tables() - {META})
            tables = {name: u.all_docs(name) for name in names}
            return {name: docs for name, docs in tables.items() if docs}

        return self._user_op(uid, op)  # type: ignore[arg-type]

    def import_user_sync(self, uid: int, tables: Export) -> None:
        check_export(tables)
        if not tables:
            self.delete_user_sync(uid)
            return

        def op(u: _TinyUserData) -> None:
            for name in u.db.tables():
                u.db.drop_table(name)
            for name, docs in tables.items():
                table = u.db.table(name)
                for doc in sorted(docs, key=lambda d: d["id"]):
                    table.insert(Document(without_id(doc), doc_id=doc["id"]))

        self._user_op(uid, op, sync_index=True)  # type: ignore[arg-type]

    def delete_user_sync(self, uid: int) -> None:
        """Everything of this user, in the live data and in every copy `restore` kept inside
        the data folder."""
        self._check_open()
        with self._tlocks.hold_sync(check_uid(uid)):
            try:
                self._delete_user_files(self.data_dir, uid)
                self._sync_index(uid, None)
                for copy in self._kept_copies():
                    self._delete_user_files(copy, uid)
                    self._drop_index_entry(copy, uid)
            except OSError as exc:
                raise StorageWriteError(f"could not delete user data: {exc.strerror}") from exc

    def _delete_user_files(self, root: Path, uid: int) -> None:
        """The user's file, its corrupt and temp copies, and the quarantined copies of their
        index shard under `root` (derived data: the live shard was rebuilt, nothing is lost)."""
        name = self.user_path(uid).name
        shard = f"{uid % INDEX_SHARDS:02d}.json"

        def is_users_file(n: str) -> bool:
            return n == name or n.startswith((f"{name}.corrupt-", f".{name}{TMP_MARKER}"))

        folder = root / self.user_path(uid).relative_to(self.data_dir).parent
        if folder.is_dir():
            self._unlink_matching(folder, is_users_file)
        if (root / "index").is_dir():
            self._unlink_matching(root / "index", lambda n: n.startswith(f"{shard}.corrupt-"))

    def _kept_copies(self) -> list[Path]:
        """Hidden folders holding a copy of this layout (what `restore` moved aside or was
        staging when it was killed)."""
        return sorted(
            p for p in self.data_dir.iterdir()
            if p.name.startswith(".") and p.is_dir() and (p / "users").is_dir()
        )  # fmt: skip

    def _drop_index_entry(self, root: Path, uid: int) -> None:
        """Take the user out of a copy's index shard (an unreadable one goes: it is derived)."""
        path = root / "index" / f"{uid % INDEX_SHARDS:02d}.json"
        try:
            entries = read_json(path)
        except ValueError:
            path.unlink()
            return
        if isinstance(entries, dict) and str(uid) in entries:
            del entries[str(uid)]
            self._write(path, entries)

    # ------------------------------------------------------------------ index, checks, counts

    def index_entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """One JSON parse per shard (~0.1 s for 100,000 users)."""
        self._check_open()
        for shard in range(INDEX_SHARDS):
            with self._shard_locks[shard]:
                entries = self._read_shard(shard)
            for key, entry in entries.items():
                yield int(key), entry

    def user_count(self) -> int:
        """Number of user files (users with a profile, flow state or any other data)."""
        self._check_open()
        return sum(1 for _ in self._user_files())

    def user_ids(self) -> list[int]:
        self._check_open()
        return sorted(uid for uid, _ in self._user_files())

    def verify_all(self) -> list[Path]:
        """Check every user file; quarantine the corrupt ones. Returns where they were moved."""
        self._check_open()
        moved = []
        for uid, path in list(self._user_files()):
            with self._tlocks.hold_sync(check_uid(uid)):
                try:
                    _check_user_shape(read_json(path))
                except ValueError:
                    moved.append(self._quarantine_user(uid))
        return moved

    def rebuild_index(self) -> None:
        """Rewrite every index shard from the user files (e.g. after a crash between a profile
        write and its index write, which leaves that user's entry stale)."""
        self._check_open()
        for shard in range(INDEX_SHARDS):
            with self._shard_locks[shard]:
                self._write(self._shard_path(shard), self._rebuild_shard(shard))
        self._write(self._index_fields_path(), list(INDEX_FIELDS))  # last: a crash redoes it

    def user_path(self, uid: int) -> Path:
        return self._user_dir(check_uid(uid) % USER_DIRS) / f"{uid}.json"

    # ------------------------------------------------------------------ internals: users

    async def _run(self, uid: int, func: Callable[..., T], *args: Any) -> T:
        """Queue on the user's asyncio lock, then do the blocking work in a worker thread."""
        async with self._alocks.hold(check_uid(uid)):
            return await asyncio.to_thread(func, *args)

    def _user_op(self, uid: int, fn: Callable[[UserData], T], *, sync_index: bool = False) -> T:
        """Load the user's data, run fn on it, write it back once if anything changed.

        The index is updated when the profile's index fields changed, and always checked after
        a migration or when `sync_index` (explicit profile writes repair a stale entry that way).
        """
        self._check_open()
        with self._tlocks.hold_sync(check_uid(uid)):
            data, migrated = self._load_user(uid)
            old_entry = copy.deepcopy(_index_entry(data))
            db = TinyDB(data, storage=_BufferStorage)
            result = fn(_TinyUserData(db))
            if db.storage.written or migrated:
                data = db.storage.data
                data[META] = {str(SINGLE_DOC_ID): {"schema": SCHEMA_VERSION}}
                self._write(self.user_path(uid), data)
                new_entry = _index_entry(data)
                if sync_index or migrated or new_entry != old_entry:
                    self._sync_index(uid, new_entry)
            return result

    def _load_user(self, uid: int) -> tuple[dict[str, Any], bool]:
        """The user's data at SCHEMA_VERSION and whether a migration changed it.

        A corrupt file is moved aside and the user starts afresh; everyone else is unaffected.
        """
        try:
            data = _check_user_shape(read_json(self.user_path(uid)))
        except ValueError:
            self._quarantine_user(uid)
            return {}, False
        return _migrate(data)

    def _quarantine_user(self, uid: int) -> Path:
        """Move a corrupt user file aside and drop the user's index entry (caller holds lock)."""
        dest = self._quarantine(self.user_path(uid))
        self._sync_index(uid, None)
        return dest

    def _user_files(self) -> Iterator[tuple[int, Path]]:
        for d in range(USER_DIRS):
            with os.scandir(self._user_dir(d)) as it:
                for entry in it:
                    if _USER_FILE.fullmatch(entry.name):
                        yield int(entry.name[:-5]), Path(entry.path)

    def _user_dir(self, d: int) -> Path:
        return self.data_dir / "users" / f"{d:02x}"

    # ------------------------------------------------------------------ internals: index

    def _shard_path(self, shard: int) -> Path:
        return self.data_dir / "index" / f"{shard:02d}.json"

    def _index_fields_path(self) -> Path:
        return self.data_dir / "index" / "fields.json"

    def _check_index_fields(self) -> None:
        """Rebuild the index if it was built with other INDEX_FIELDS (an upgrade added a push
        kind's field, say): otherwise the schedulers would not see that field until each
        person's profile is written again. A new, empty index just records the fields."""
        try:
            if read_json(self._index_fields_path()) == list(INDEX_FIELDS):
                return
        except ValueError:
            pass  # unreadable: rebuilding is always safe
        if any(self._shard_path(shard).exists() for shard in range(INDEX_SHARDS)):
            log.info("index fields changed: rebuilding the scheduler index from user files")
            self.rebuild_index()
        else:
            self._write(self._index_fields_path(), list(INDEX_FIELDS))

    def _sync_index(self, uid: int, entry: dict[str, Any] | None) -> None:
        """Make the user's index entry equal `entry` (None = no entry); write only if needed."""
        shard = uid % INDEX_SHARDS
        with self._shard_locks[shard]:
            entries = self._read_shard(shard)
            key = str(uid)
            if entries.get(key) == entry:
                return
            if entry is None:
                del entries[key]
            else:
                entries[key] = entry
            self._write(self._shard_path(shard), entries)
        for listener in self.index_listeners:
            try:
                listener(uid, None if entry is None else dict(entry))
            except Exception:  # a listener's bug must not fail the user's save
                log.exception("index listener failed")

    def _read_shard(self, shard: int) -> dict[str, dict[str, Any]]:
        """Load one index shard; a corrupt one is moved aside and rebuilt (caller holds its
        lock, or is `open`)."""
        path = self._shard_path(shard)
        with contextlib.suppress(ValueError):
            entries = read_json(path)
            if entries is None:
                return {}
            if _is_valid_shard(entries):
                return entries
        self._quarantine(path)
        entries = self._rebuild_shard(shard)
        self._write(path, entries)
        return entries

    def _rebuild_shard(self, shard: int) -> dict[str, dict[str, Any]]:
        """Index entries for the users of one shard, read from their files.

        Corrupt user files are skipped, not quarantined: we don't hold their user locks here;
        they are moved aside when next opened.
        """
        entries = {}
        for d in range(shard, USER_DIRS, INDEX_SHARDS):
            with os.scandir(self._user_dir(d)) as it:
                for item in it:
                    if not _USER_FILE.fullmatch(item.name):
                        continue
                    try:
                        data, _ = _migrate(_check_user_shape(read_json(Path(item.path))))
                    except (ValueError, StorageError):
                        continue
                    entry = _index_entry(data)
                    if entry is not None:
                        entries[item.name[:-5]] = entry
        return entries

    # ------------------------------------------------------------------ internals: files

    def _write(self, path: Path, data: Any) -> None:
        write_json_atomic(path, data, fsync=self.fsync)

    def _quarantine(self, path: Path) -> Path:
        """Rename a corrupt file to <name>.corrupt-<UTC timestamp>; log the path, never content
        (it may be health data)."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        dest = path.with_name(f"{path.name}.corrupt-{stamp}")
        n = 1
        while dest.exists():
            dest = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
            n += 1
        try:
            os.replace(path, dest)
            if self.fsync:
                fsync_dir(path.parent)
        except OSError as exc:
            raise StorageWriteError(f"could not move aside corrupt {path}: {exc.strerror}") from exc
        log.warning("Corrupt data file %s moved aside to %s", path, dest.name)
        return dest

    def _unlink_matching(self, folder: Path, wanted: Callable[[str], bool]) -> None:
        removed = False
        with os.scandir(folder) as it:
            for entry in it:
                if wanted(entry.name):
                    os.unlink(entry.path)
                    removed = True
        if removed and self.fsync:
            fsync_dir(folder)

    def _make_dir(self, path: Path) -> None:
        path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.chmod(path, DIR_MODE)  # mkdir's mode is filtered by the umask; existing dirs too

    def _take_process_lock(self) -> None:
        # Two processes on one folder would each have their own in-memory locks and could lose
        # each other's updates, so the second one is refused.
        path = self.data_dir / "lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
        os.fchmod(fd, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StorageError(f"{self.data_dir} is in use by another Store") from None
        self._lock_fd = fd

    def _check_layout_meta(self) -> None:
        path = self.data_dir / "meta.json"
        try:
            meta = read_json(path)
        except ValueError:
            raise StorageError(f"{path} is not valid JSON; refusing to guess the layout") from None
        if meta is None:
            self._write(path, {"schema": LAYOUT_VERSION})
        elif not isinstance(meta, dict) or meta.get("schema") != LAYOUT_VERSION:
            raise StorageError(f"{path} has an unsupported layout: {meta!r}")

    def _remove_stale_temp_files(self) -> None:
        # We hold the process lock, so every temp file is a leftover of a killed process (and
        # may hold health data).
        folders = [self.data_dir, self.data_dir / "index"]
        folders += [self._user_dir(d) for d in range(USER_DIRS)]
        for folder in folders:
            self._unlink_matching(folder, is_temp_name)

    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise StorageError("Store is not open; call open() first")


# ---------------------------------------------------------------------- helpers


def _plain(doc: Document | None) -> dict[str, Any] | None:
    return None if doc is None else dict(doc)


def _with_id(doc: Document) -> dict[str, Any]:
    return {"id": doc.doc_id, **doc}


def _index_entry(data: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduler's view of a user (see `index_entry`) from the raw file data."""
    return index_entry(data.get(PROFILE, {}).get(str(SINGLE_DOC_ID)))


def _is_doc_id(key: Any) -> bool:
    return isinstance(key, str) and key.isascii() and key.isdigit()


def _check_user_shape(raw: Any) -> dict[str, Any]:
    """A user file must be {table: {"<int>": {document}}}; raise ValueError otherwise."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ValueError("user file is not a JSON object")
    for table in raw.values():
        if not isinstance(table, dict):
            raise ValueError("table is not a JSON object")
        for doc_id, doc in table.items():
            if not _is_doc_id(doc_id) or not isinstance(doc, dict):
                raise ValueError("malformed document")
    meta = raw.get(META, {}).get(str(SINGLE_DOC_ID), {"schema": 1})
    if type(meta.get("schema")) is not int:
        raise ValueError("bad schema version")
    return raw


def _migrate(data: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Bring a (shape-checked) user's data up to SCHEMA_VERSION. Returns (data, changed)."""
    if not data:
        return data, False
    version = data.get(META, {}).get(str(SINGLE_DOC_ID), {}).get("schema", 1)
    if version > SCHEMA_VERSION:
        raise StorageError(f"user file has schema {version}, newer than {SCHEMA_VERSION}")
    if version == SCHEMA_VERSION:
        return data, False
    for v in range(version, SCHEMA_VERSION):
        try:
            MIGRATIONS[v](data)
        except Exception as exc:
            raise StorageError(f"migration from schema {v} failed") from exc
    data[META] = {str(SINGLE_DOC_ID): {"schema": SCHEMA_VERSION}}
    return data, True


def _is_valid_shard(entries: Any) -> bool:
    return isinstance(entries, dict) and all(
        isinstance(k, str) and re.fullmatch(r"-?\d+", k) and isinstance(v, dict)
        for k, v in entries.items()
    )


__all__ = ["INDEX_FIELDS", "MIGRATIONS", "SCHEMA_VERSION", "FileStore"]
