"""Which engine: one decision, used by the bot (`bot/app.py`), the CLI and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.storage.base import Store
from bot.storage.files import FileStore

if TYPE_CHECKING:
    from bot.config import Settings

DATABASE_SCHEMES = ("postgresql://", "postgres://")


def is_database_url(location: str) -> bool:
    return location.startswith(DATABASE_SCHEMES)


def store_at(location: str | Path, *, pool_size: int = 8, pool_timeout: float = 5.0) -> Store:
    """A store (not yet open) for a data folder or a postgresql:// URL."""
    if isinstance(location, str) and is_database_url(location):
        from bot.storage.postgres import PostgresStore  # psycopg is imported only when used

        return PostgresStore(location, pool_size=pool_size, pool_timeout=pool_timeout)
    return FileStore(Path(location))


def store_for(settings: Settings) -> Store:
    """The store the settings ask for, not yet open: PostgreSQL when COACH_DATABASE_URL is set,
    otherwise the file store in COACH_DATA_DIR."""
    if settings.database_url is None:
        return FileStore(settings.data_dir)
    return store_at(
        settings.database_url.reveal(),
        pool_size=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout,
    )


def open_store(settings: Settings) -> Store:
    """`store_for(settings)`, opened (StorageError if it can't be: folder in use, database
    unreachable or newer than the code)."""
    return store_for(settings).open()
