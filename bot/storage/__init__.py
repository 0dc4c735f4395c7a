"""Persistent storage: one crash-safe TinyDB file per user plus a small index for the scheduler.

Use `Store` everywhere; nothing else in the bot touches the data folder.
"""

from bot.storage.atomic import AtomicJSONStorage
from bot.storage.errors import StorageError, StorageWriteError
from bot.storage.store import INDEX_FIELDS, SCHEMA_VERSION, Store

__all__ = [
    "INDEX_FIELDS",
    "SCHEMA_VERSION",
    "AtomicJSONStorage",
    "StorageError",
    "StorageWriteError",
    "Store",
]
