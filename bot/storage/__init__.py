"""Persistent storage: one crash-safe TinyDB file per user plus a small index for the scheduler.

Use `Store` everywhere, and `UserData` inside `Store.transact`; nothing else in the bot touches
the data folder or imports an engine (tinydb, a database driver).
"""

from bot.storage.atomic import AtomicJSONStorage
from bot.storage.errors import StorageError, StorageWriteError
from bot.storage.store import INDEX_FIELDS, SCHEMA_VERSION, Store
from bot.storage.userdata import UserData

__all__ = [
    "INDEX_FIELDS",
    "SCHEMA_VERSION",
    "AtomicJSONStorage",
    "StorageError",
    "StorageWriteError",
    "Store",
    "UserData",
]
