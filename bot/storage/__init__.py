"""Persistent storage behind one interface, `Store`; `open_store` picks the engine.

- `FileStore` (default): one crash-safe TinyDB file per person plus a small index for the
  scheduler, in `COACH_DATA_DIR`. Nothing to install.
- `PostgresStore`: PostgreSQL, when `COACH_DATABASE_URL` is set (imported only then).

Use `Store` everywhere, and `UserData` inside `Store.transact`; nothing else in the bot touches
the data folder or imports an engine (tinydb, a database driver).
"""

from bot.storage.atomic import AtomicJSONStorage
from bot.storage.base import INDEX_FIELDS, Export, Store
from bot.storage.errors import StorageError, StorageWriteError
from bot.storage.factory import open_store, store_for
from bot.storage.files import SCHEMA_VERSION, FileStore
from bot.storage.userdata import UserData

__all__ = [
    "INDEX_FIELDS",
    "SCHEMA_VERSION",
    "AtomicJSONStorage",
    "Export",
    "FileStore",
    "StorageError",
    "StorageWriteError",
    "Store",
    "UserData",
    "open_store",
    "store_for",
]
