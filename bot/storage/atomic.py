"""Crash-safe JSON files.

A write goes to a temp file in the same folder, is fsynced, renamed over the target and then the
folder is fsynced. Whoever reads the file next (even after a crash or power cut) sees either the
old content or the new content, never a torn mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from bot.storage.errors import StorageError, StorageWriteError

FILE_MODE = 0o600
DIR_MODE = 0o700
TMP_MARKER = ".tmp-"  # temp files are named .<target name>.tmp-<pid>-<random>


def temp_path(target: Path) -> Path:
    """A unique, hidden temp file name next to `target` (same folder, so rename is atomic)."""
    return target.with_name(f".{target.name}{TMP_MARKER}{os.getpid()}-{secrets.token_hex(4)}")


def is_temp_name(name: str) -> bool:
    """True for names made by `temp_path` (leftovers of a killed process)."""
    return name.startswith(".") and TMP_MARKER in name


def fsync_dir(folder: Path) -> None:
    """Make a rename/create/unlink inside `folder` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any | None:
    """Parse `path`; None if it is missing or empty.

    Invalid JSON or UTF-8 raises ValueError: the caller decides whether that means "corrupt".
    Other OS errors raise StorageError.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StorageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not raw.strip():
        return None
    return json.loads(raw.decode("utf-8"))


def write_json_atomic(path: Path, data: Any, *, fsync: bool = True) -> None:
    """Replace `path` with `data` as compact UTF-8 JSON, atomically.

    Raises StorageWriteError on any OS error (the old file stays as it was), and
    TypeError/ValueError for data JSON can't represent (before touching the disk).
    """
    # Serialise first: a programming error must not leave a temp file behind.
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    payload = text.encode("utf-8")
    tmp = temp_path(path)
    replaced = False
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)  # explicit, whatever the umask is
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        replaced = True
        if fsync:
            fsync_dir(path.parent)
    except OSError as exc:
        raise StorageWriteError(f"could not save {path.name}: {exc.strerror or exc}") from exc
    finally:
        if not replaced:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


class AtomicJSONStorage(Storage):
    """TinyDB storage that never leaves a half-written file: `TinyDB(path, storage=...)`.

    `fsync=False` is only for benchmarks comparing against the stock JSONStorage; production
    code always keeps it on.
    """

    def __init__(self, path: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.path = Path(path)
        self.fsync = fsync

    def read(self) -> dict[str, dict[str, Any]] | None:
        data = read_json(self.path)
        if data is not None and not isinstance(data, dict):
            raise ValueError(f"{self.path} does not hold a JSON object")
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_json_atomic(self.path, data, fsync=self.fsync)
