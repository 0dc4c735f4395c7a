"""One lock per person: `KeyedLocks` gives each key (a user id) its own lock, made when first
wanted and dropped as soon as nobody holds or waits for it.

Memory follows the number of people busy right now, not everyone who ever used the bot, and two
people never share a lock (a fixed array of lock stripes would make someone wait for a stranger
whose id happens to collide). The update processor, the store and any feature that must apply one
person's actions one at a time use it:

    locks = KeyedLocks()                      # asyncio locks, for coroutines
    async with locks.hold(user_id): ...

    file_locks = KeyedLocks(threading.Lock)   # thread locks, for blocking code in worker threads
    with file_locks.hold_sync(user_id): ...
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from typing import Any


class _Entry:
    __slots__ = ("lock", "users")

    def __init__(self, lock: Any) -> None:
        self.lock = lock
        self.users = 0  # holding or waiting


class KeyedLocks:
    """A lock per key. `factory` makes the lock: `asyncio.Lock` (default, use `hold`) or
    `threading.Lock` (use `hold_sync`). Safe to use from several threads at once."""

    def __init__(self, factory: Callable[[], Any] = asyncio.Lock) -> None:
        self._factory = factory
        self._entries: dict[Hashable, _Entry] = {}
        self._guard = threading.Lock()  # held for a dict lookup only, never while waiting

    def __len__(self) -> int:
        """How many keys are held or waited for right now."""
        return len(self._entries)

    @contextlib.contextmanager
    def _entry(self, key: Hashable) -> Iterator[_Entry]:
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry(self._factory())
            entry.users += 1
        try:
            yield entry
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    del self._entries[key]

    @contextlib.asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        """Hold the asyncio lock of `key`, queueing behind earlier holders of the same key."""
        with self._entry(key) as entry:
            async with entry.lock:
                yield

    @contextlib.contextmanager
    def hold_sync(self, key: Hashable) -> Iterator[None]:
        """Hold the thread lock of `key` (blocking)."""
        with self._entry(key) as entry, entry.lock:
            yield
