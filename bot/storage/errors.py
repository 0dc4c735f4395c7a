"""Storage exceptions: handlers catch `StorageError` and say "couldn't save, try again"."""


class StorageError(Exception):
    """Something went wrong reading or writing the data folder."""


class StorageWriteError(StorageError):
    """A write failed (disk full, read-only, I/O error). The previous file is left intact."""
