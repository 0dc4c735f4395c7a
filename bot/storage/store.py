"""`Store`: the one repository the rest of the bot uses for persistent data.

Layout under the data folder (folders 0700, files 0600):

    meta.json                  {"schema": LAYOUT_VERSION}
    lock                       flock'd while a Store is open: one process per data folder
    users/<uid % 256 hex>/<uid>.json
                               one small TinyDB file per user: "_meta", "profile", "state"
                               and any feature tables ("episodes", "tips", ...)
    index/<uid % 64>.json      {"<uid>": {INDEX_FIELDS of the profile}} for the scheduler
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
from typing import Any, TypeVar

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
from bot.storage.errors import StorageError, StorageWriteError

log = logging.getLogger(__name__)
T = TypeVar("T")

LAYOUT_VERSION = 1  # folder layout (meta.json)
SCHEMA_VERSION = 1  # content of a user file (its "_meta" table)
# MIGRATIONS[n] turns a user file's raw data (a dict of tables) from schema n into n + 1, in place.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], None]] = {}

# Profile fields copied into the index, for the scheduler (only those present).
INDEX_FIELDS = (
    "tz",
    "tip_time",
    "active",
    "accepted",
    "tips_paused_until",
    "tips_enabled",
    "relief_timer_due",  # lets the relief timer rebuild skip everyone without a pending timer
)

META, PROFILE, STATE = "_meta", "profile", "state"
RESERVED_TABLES = frozenset({META, PROFILE, STATE})  # only reachable via their own methods
SINGLE_DOC_ID = 1  # _meta, profile and state each hold one document with this id

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


class Store:
    """Per-user TinyDB files plus a sharded index. All public coroutines are safe to run
    concurrently; each has a blocking `*_sync` twin for CLI commands and benchmarks."""

    def __init__(self, data_dir: Path, *, fsync: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.fsync = fsync
        # Two lock layers per user: the asyncio lock queues coroutines without tying up worker
        # threads; the thread lock protects the file itself (sync twins, and a worker that keeps
        # running after its awaiting task was cancelled).
        self._alocks = KeyedLocks()
        self._tlocks = KeyedLocks(threading.Lock)
        self._shard_locks = [threading.Lock() for _ in range(INDEX_SHARDS)]
        self._lock_fd: int | None = None
        # Called as listener(uid, entry or None) after a user's index entry changed (from a
        # worker thread): lets the tip scheduler follow profile changes made by any feature.
        self.index_listeners: list[Callable[[int, dict[str, Any] | None], None]] = []

    # ------------------------------------------------------------------ lifecycle

    def open(self) -> Store:
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

    async def close(self) -> None:
        self.close_sync()

    def __enter__(self) -> Store:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close_sync()

    # ------------------------------------------------------------------ profile

    async def get_profile(self, uid: int) -> dict[str, Any] | None:
        return await self._run(uid, self.get_profile_sync, uid)

    def get_profile_sync(self, uid: int) -> dict[str, Any] | None:
        return self._user_op(uid, lambda db: _plain(db.table(PROFILE).get(doc_id=SINGLE_DOC_ID)))

    async def save_profile(self, uid: int, profile: dict[str, Any]) -> None:
        """Replace the whole profile."""
        await self._run(uid, self.save_profile_sync, uid, profile)

    def save_profile_sync(self, uid: int, profile: dict[str, Any]) -> None:
        if not isinstance(profile, dict):
            raise TypeError("profile must be a dict")

        def op(db: TinyDB) -> None:
            table = db.table(PROFILE)
            table.truncate()
            table.insert(Document(profile, doc_id=SINGLE_DOC_ID))

        self._user_op(uid, op, sync_index=True)

    async def update_profile(self, uid: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the profile and return the new profile; KeyError if none."""
        return await self._run(uid, self.update_profile_sync, uid, changes)

    def update_profile_sync(self, uid: int, changes: dict[str, Any]) -> dict[str, Any]:
        def op(db: TinyDB) -> dict[str, Any]:
            table = db.table(PROFILE)
            if not table.contains(doc_id=SINGLE_DOC_ID):
                raise KeyError(f"user {uid} has no profile")
            table.update(dict(changes), doc_ids=[SINGLE_DOC_ID])
            return dict(table.get(doc_id=SINGLE_DOC_ID))

        return self._user_op(uid, op, sync_index=True)

    # ------------------------------------------------------------------ generic tables
    # Documents come back as plain dicts with their "id"; an "id" key passed in is ignored.
    # Like TinyDB, removing the newest document lets its id be reused by the next insert.

    async def insert(self, uid: int, table: str, doc: dict[str, Any]) -> int:
        return await self._run(uid, self.insert_sync, uid, table, doc)

    def insert_sync(self, uid: int, table: str, doc: dict[str, Any]) -> int:
        _check_table(table)
        return self._user_op(uid, lambda db: db.table(table).insert(_without_id(doc)))

    async def all(self, uid: int, table: str) -> list[dict[str, Any]]:
        return await self._run(uid, self.all_sync, uid, table)

    def all_sync(self, uid: int, table: str) -> list[dict[str, Any]]:
        _check_table(table)
        return self._user_op(uid, lambda db: [_with_id(d) for d in db.table(table).all()])

    async def get(self, uid: int, table: str, doc_id: int) -> dict[str, Any] | None:
        return await self._run(uid, self.get_sync, uid, table, doc_id)

    def get_sync(self, uid: int, table: str, doc_id: int) -> dict[str, Any] | None:
        _check_table(table)

        def op(db: TinyDB) -> dict[str, Any] | None:
            doc = db.table(table).get(doc_id=doc_id)
            return None if doc is None else _with_id(doc)

        return self._user_op(uid, op)

    async def update(self, uid: int, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        """Merge `changes` into one document; False if it doesn't exist."""
        return await self._run(uid, self.update_sync, uid, table, doc_id, changes)

    def update_sync(self, uid: int, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        _check_table(table)

        def op(db: TinyDB) -> bool:
            tbl = db.table(table)
            if not tbl.contains(doc_id=doc_id):
                return False
            tbl.update(_without_id(changes), doc_ids=[doc_id])
            return True

        return self._user_op(uid, op)

    async def remove(self, uid: int, table: str, doc_id: int) -> bool:
        """Delete one document; False if it doesn't exist."""
        return await self._run(uid, self.remove_sync, uid, table, doc_id)

    def remove_sync(self, uid: int, table: str, doc_id: int) -> bool:
        _check_table(table)

        def op(db: TinyDB) -> bool:
            tbl = db.table(table)
            if not tbl.contains(doc_id=doc_id):
                return False
            tbl.remove(doc_ids=[doc_id])
            return True

        return self._user_op(uid, op)

    # ------------------------------------------------------------------ flow state (key/value)

    async def get_state(self, uid: int, key: str) -> Any | None:
        return await self._run(uid, self.get_state_sync, uid, key)

    def get_state_sync(self, uid: int, key: str) -> Any | None:
        def op(db: TinyDB) -> Any | None:
            doc = db.table(STATE).get(doc_id=SINGLE_DOC_ID)
            return None if doc is None else doc.get(key)

        return self._user_op(uid, op)

    async def set_state(self, uid: int, key: str, value: Any) -> None:
        await self._run(uid, self.set_state_sync, uid, key, value)

    def set_state_sync(self, uid: int, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError("state keys must be str (JSON object keys)")

        def op(db: TinyDB) -> None:
            table = db.table(STATE)
            if table.contains(doc_id=SINGLE_DOC_ID):
                table.update({key: value}, doc_ids=[SINGLE_DOC_ID])
            else:
                table.insert(Document({key: value}, doc_id=SINGLE_DOC_ID))

        self._user_op(uid, op)

    async def clear_state(self, uid: int, key: str) -> None:
        await self._run(uid, self.clear_state_sync, uid, key)

    def clear_state_sync(self, uid: int, key: str) -> None:
        def op(db: TinyDB) -> None:
            table = db.table(STATE)
            doc = table.get(doc_id=SINGLE_DOC_ID)
            if doc is None or key not in doc:
                return  # nothing to clear: no write
            if len(doc) == 1:
                db.drop_table(STATE)  # don't keep an empty state document around
            else:
                table.update(delete_field(key), doc_ids=[SINGLE_DOC_ID])

        self._user_op(uid, op)

    # ------------------------------------------------------------------ whole-user operations

    async def transact(self, uid: int, fn: Callable[[TinyDB], T]) -> T:
        """Run `fn(db)` on this user's TinyDB in a worker thread, under the user's lock, with one
        atomic write at the end. If `fn` raises, nothing is written."""
        return await self._run(uid, self.transact_sync, uid, fn)

    def transact_sync(self, uid: int, fn: Callable[[TinyDB], T]) -> T:
        return self._user_op(uid, fn)

    async def export_user(self, uid: int) -> dict[str, list[dict[str, Any]]]:
        """Every table of the user (except "_meta") as {table: [doc with "id", ...]}."""
        return await self._run(uid, self.export_user_sync, uid)

    def export_user_sync(self, uid: int) -> dict[str, list[dict[str, Any]]]:
        def op(db: TinyDB) -> dict[str, list[dict[str, Any]]]:
            names = sorted(db.tables() - {META})
            return {name: [_with_id(d) for d in db.table(name).all()] for name in names}

        return self._user_op(uid, op)

    async def delete_user(self, uid: int) -> None:
        """Remove everything of this user from disk: file, corrupt copies, temp files, index,
        in the live data and in every copy `restore` kept inside the data folder."""
        await self._run(uid, self.delete_user_sync, uid)

    def delete_user_sync(self, uid: int) -> None:
        self._check_open()
        with self._tlocks.hold_sync(_check_uid(uid)):
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
        """(uid, index entry) for every user with a profile: one JSON parse per shard.

        Blocking (~0.1 s for 100,000 users): from async code, call it via asyncio.to_thread.
        """
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

    def verify_all(self) -> list[Path]:
        """Check every user file; quarantine the corrupt ones. Returns where they were moved."""
        self._check_open()
        moved = []
        for uid, path in list(self._user_files()):
            with self._tlocks.hold_sync(_check_uid(uid)):
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

    def user_path(self, uid: int) -> Path:
        return self._user_dir(_check_uid(uid) % USER_DIRS) / f"{uid}.json"

    # ------------------------------------------------------------------ internals: users

    async def _run(self, uid: int, func: Callable[..., T], *args: Any) -> T:
        """Queue on the user's asyncio lock, then do the blocking work in a worker thread."""
        async with self._alocks.hold(_check_uid(uid)):
            return await asyncio.to_thread(func, *args)

    def _user_op(self, uid: int, fn: Callable[[TinyDB], T], *, sync_index: bool = False) -> T:
        """Load the user's data, run fn on it, write it back once if anything changed.

        The index is updated when the profile's index fields changed, and always checked after
        a migration or when `sync_index` (explicit profile writes repair a stale entry that way).
        """
        self._check_open()
        with self._tlocks.hold_sync(_check_uid(uid)):
            data, migrated = self._load_user(uid)
            old_entry = copy.deepcopy(_index_entry(data))
            db = TinyDB(data, storage=_BufferStorage)
            result = fn(db)
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


def _check_uid(uid: int) -> int:
    # uids become file names: anything but a real int (e.g. a str) is refused.
    if not isinstance(uid, int) or isinstance(uid, bool):
        raise TypeError(f"uid must be an int, not {type(uid).__name__}")
    return uid


def _check_table(name: str) -> None:
    if not isinstance(name, str) or not name or name in RESERVED_TABLES:
        raise ValueError(f"invalid table name: {name!r}")


def _plain(doc: Document | None) -> dict[str, Any] | None:
    return None if doc is None else dict(doc)


def _with_id(doc: Document) -> dict[str, Any]:
    return {"id": doc.doc_id, **doc}


def _without_id(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "id"}


def _index_entry(data: dict[str, Any]) -> dict[str, Any] | None:
    """The scheduler's view of a user: INDEX_FIELDS of the profile; None without a profile."""
    profile = data.get(PROFILE, {}).get(str(SINGLE_DOC_ID))
    if profile is None:
        return None
    return {k: profile[k] for k in INDEX_FIELDS if k in profile}


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


__all__ = [
    "INDEX_FIELDS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "StorageError",
    "StorageWriteError",
    "Store",
]
