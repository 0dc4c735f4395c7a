"""`Store`: the one storage interface the bot speaks, whatever engine holds the data.

Two engines implement it: `FileStore` (bot/storage/files.py: one crash-safe TinyDB file per
person, the embedded default) and `PostgresStore` (bot/storage/postgres.py, chosen by
`COACH_DATABASE_URL`). Both run every operation on one person as a unit of work: under that
person's lock, in a worker thread, all applied or none. An engine provides the unit of work
(`_user_op`), the queueing around it (`_run`) and the whole-store operations; the shortcuts and
the async/sync pairs the features call are defined here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Self, TypeVar

from bot.storage.userdata import UserData

T = TypeVar("T")

# Profile fields copied into the scheduler's index (only those present).
# Profile fields copied into the index (only those present), so the schedulers rebuild at start
# from the index alone. Every push kind declares the fields its schedule reads (`PushKind.fields`
# in bot/pushes.py); the push scheduler refuses to start with a kind whose fields are missing
# here. The file store rebuilds its index once when this list changes (index/fields.json).
INDEX_FIELDS = (
    # everyone: whether any push may go out, and the zone it is timed in
    "tz",
    "active",
    "accepted",
    # push kind "tip" (bot/telegram/tips.py)
    "tip_time",
    "tips_paused_until",
    "tips_enabled",
    # push kind "weekly" (bot/telegram/insights/evening.py)
    "weekly_summary",
    # push kind "diary" (the evening diary)
    "diary_time",
    "diary_enabled",
    # relief timers: lets their rebuild skip everyone without a pending timer
    "relief_timer_due",
)

PROFILE, STATE = "profile", "state"
RESERVED_TABLES = frozenset({"_meta", PROFILE, STATE})  # only reachable via their own methods
SINGLE_DOC_ID = 1  # the profile and the state are single documents with this id in an export

# What `export_user` returns and `import_user` takes: {table: [document with its "id", ...]},
# non-empty tables only, the profile and the state as one-document tables, ids ascending.
Export = dict[str, list[dict[str, Any]]]
IndexListener = Callable[[int, dict[str, Any] | None], None]


class Store(ABC):
    """Persistent data of every person. All public coroutines are safe to run concurrently;
    each has a blocking `*_sync` twin for CLI commands, copy-store and benchmarks."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Store:
        # `Store(data_dir)` still means the file store, as it did before there were two engines,
        # so code written against that (other branches, scripts) keeps working.
        if cls is Store:
            from bot.storage.files import FileStore

            return super().__new__(FileStore)
        return super().__new__(cls)

    def __init__(self) -> None:
        # Called as listener(uid, entry or None) after a person's index entry changed (from a
        # worker thread): lets the tip scheduler follow profile changes made by any feature.
        self.index_listeners: list[IndexListener] = []

    # ------------------------------------------------------------------ engine primitives

    @abstractmethod
    def open(self) -> Self:
        """Connect/check/prepare; returns self. Idempotent."""

    @abstractmethod
    def close_sync(self) -> None:
        """Release the engine (idempotent)."""

    @abstractmethod
    async def _run(self, uid: int, func: Callable[..., T], *args: Any) -> T:
        """Queue on the person's lock, then run the blocking `func(*args)` in a worker thread."""

    @abstractmethod
    def _user_op(self, uid: int, fn: Callable[[UserData], T], *, sync_index: bool = False) -> T:
        """One unit of work on one person (blocking): all of fn's writes or none."""

    def _user_read(self, uid: int, fn: Callable[[UserData], T]) -> T:
        """A read-only unit of work; an engine may run it without the person's lock."""
        return self._user_op(uid, fn)

    @abstractmethod
    def export_user_sync(self, uid: int) -> Export:
        """Every table of the person, see `Export`."""

    @abstractmethod
    def import_user_sync(self, uid: int, tables: Export) -> None:
        """Replace everything of the person with `tables` (an `export_user` result), ids kept."""

    @abstractmethod
    def delete_user_sync(self, uid: int) -> None:
        """Remove everything of the person."""

    @abstractmethod
    def index_entries(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(uid, index entry) for every person with a profile. Blocking (~0.1-1 s for 100,000
        people): from async code, call it via asyncio.to_thread."""

    @abstractmethod
    def user_ids(self) -> list[int]:
        """Every person with any data, ascending."""

    @abstractmethod
    def user_count(self) -> int:
        """Number of people with any data (a profile, flow state or any other document)."""

    @abstractmethod
    def verify_all(self) -> list[Path]:
        """Check everyone's data; set aside what is corrupt. Returns where it went."""

    @abstractmethod
    def rebuild_index(self) -> None:
        """Recompute what is derived from the profiles (the scheduler's index)."""

    @abstractmethod
    def describe(self) -> str:
        """Where the data is, safe to print (no password)."""

    # ------------------------------------------------------------------ lifecycle

    async def close(self) -> None:
        self.close_sync()

    def __enter__(self) -> Self:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close_sync()

    # ------------------------------------------------------------------ profile

    async def get_profile(self, uid: int) -> dict[str, Any] | None:
        return await self._run(uid, self.get_profile_sync, uid)

    def get_profile_sync(self, uid: int) -> dict[str, Any] | None:
        return self._user_read(uid, lambda u: u.profile())

    async def save_profile(self, uid: int, profile: dict[str, Any]) -> None:
        """Replace the whole profile."""
        await self._run(uid, self.save_profile_sync, uid, profile)

    def save_profile_sync(self, uid: int, profile: dict[str, Any]) -> None:
        self._user_op(uid, lambda u: u.save_profile(profile), sync_index=True)

    async def update_profile(self, uid: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the profile and return the new profile; KeyError if none."""
        return await self._run(uid, self.update_profile_sync, uid, changes)

    def update_profile_sync(self, uid: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._user_op(uid, lambda u: u.update_profile(changes), sync_index=True)

    # ------------------------------------------------------------------ generic tables
    # Single-operation shortcuts for `transact`; see `UserData` for what each does.

    async def insert(self, uid: int, table: str, doc: dict[str, Any]) -> int:
        return await self._run(uid, self.insert_sync, uid, table, doc)

    def insert_sync(self, uid: int, table: str, doc: dict[str, Any]) -> int:
        return self._user_op(uid, lambda u: u.insert(table, doc))

    async def all(self, uid: int, table: str) -> list[dict[str, Any]]:
        return await self._run(uid, self.all_sync, uid, table)

    def all_sync(self, uid: int, table: str) -> list[dict[str, Any]]:
        return self._user_read(uid, lambda u: u.all(table))

    async def get(self, uid: int, table: str, doc_id: int) -> dict[str, Any] | None:
        return await self._run(uid, self.get_sync, uid, table, doc_id)

    def get_sync(self, uid: int, table: str, doc_id: int) -> dict[str, Any] | None:
        return self._user_read(uid, lambda u: u.get(table, doc_id))

    async def update(self, uid: int, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        return await self._run(uid, self.update_sync, uid, table, doc_id, changes)

    def update_sync(self, uid: int, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        return self._user_op(uid, lambda u: u.update(table, doc_id, changes))

    async def remove(self, uid: int, table: str, doc_id: int) -> bool:
        return await self._run(uid, self.remove_sync, uid, table, doc_id)

    def remove_sync(self, uid: int, table: str, doc_id: int) -> bool:
        return self._user_op(uid, lambda u: u.remove(table, doc_id))

    # ------------------------------------------------------------------ flow state (key/value)

    async def get_state(self, uid: int, key: str) -> Any | None:
        return await self._run(uid, self.get_state_sync, uid, key)

    def get_state_sync(self, uid: int, key: str) -> Any | None:
        return self._user_read(uid, lambda u: u.state(key))

    async def set_state(self, uid: int, key: str, value: Any) -> None:
        await self._run(uid, self.set_state_sync, uid, key, value)

    def set_state_sync(self, uid: int, key: str, value: Any) -> None:
        self._user_op(uid, lambda u: u.set_state({key: value}))

    async def clear_state(self, uid: int, key: str) -> None:
        await self._run(uid, self.clear_state_sync, uid, key)

    def clear_state_sync(self, uid: int, key: str) -> None:
        self._user_op(uid, lambda u: u.clear_state(key))

    # ------------------------------------------------------------------ whole-person operations

    async def transact(self, uid: int, fn: Callable[[UserData], T]) -> T:
        """Run `fn(data)` on this person's data in a worker thread, under the person's lock,
        all of its writes applied at once at the end. If `fn` raises, nothing is written."""
        return await self._run(uid, self.transact_sync, uid, fn)

    def transact_sync(self, uid: int, fn: Callable[[UserData], T]) -> T:
        return self._user_op(uid, fn)

    async def export_user(self, uid: int) -> Export:
        """Every table of the person as {table: [doc with "id", ...]} (see `Export`)."""
        return await self._run(uid, self.export_user_sync, uid)

    async def import_user(self, uid: int, tables: Export) -> None:
        await self._run(uid, self.import_user_sync, uid, tables)

    async def delete_user(self, uid: int) -> None:
        """Remove everything of this person."""
        await self._run(uid, self.delete_user_sync, uid)


# ---------------------------------------------------------------------- helpers for engines


def check_uid(uid: int) -> int:
    # uids become file names and SQL parameters: anything but a real int (e.g. a str) is refused.
    if not isinstance(uid, int) or isinstance(uid, bool):
        raise TypeError(f"uid must be an int, not {type(uid).__name__}")
    return uid


def check_table(name: str) -> None:
    if not isinstance(name, str) or not name or name in RESERVED_TABLES:
        raise ValueError(f"invalid table name: {name!r}")


def index_entry(profile: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scheduler's view of a person: INDEX_FIELDS of the profile; None without a profile."""
    if profile is None:
        return None
    return {k: profile[k] for k in INDEX_FIELDS if k in profile}


def with_id(doc_id: int, doc: dict[str, Any]) -> dict[str, Any]:
    return {"id": doc_id, **doc}


def without_id(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "id"}


def check_export(tables: Export) -> None:
    """An `import_user` argument must look like an export; raise ValueError otherwise."""
    if not isinstance(tables, dict):
        raise ValueError("an export is a dict of tables")
    for name, docs in tables.items():
        if name not in (PROFILE, STATE):
            check_table(name)
        if not isinstance(docs, list) or not docs:
            raise ValueError(f"table {name!r} must be a non-empty list")
        ids = [d.get("id") if isinstance(d, dict) else None for d in docs]
        if not all(type(i) is int and i > 0 for i in ids) or len(set(ids)) != len(ids):
            raise ValueError(f"table {name!r} has documents without distinct positive ids")
        if name in (PROFILE, STATE) and ids != [SINGLE_DOC_ID]:
            raise ValueError(f"{name} must be one document with id {SINGLE_DOC_ID}")
