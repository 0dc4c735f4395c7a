"""`twitch-coach backup` / `restore`: copy the data folder out and back, safely.

Backup works while the bot runs. It cannot take the store's lock (the bot holds ``data/lock`` for
as long as it runs) and does not need to: the store never writes a file in place, it writes a temp
file and ``os.replace``s it over the old one. Opening a file therefore yields either the whole old
or the whole new version, so copying file by file gives every file in a consistent state. Each
copy is parsed before it goes into the backup (and read again if it was replaced mid-read); the
index is derived data and is rebuilt from the user files on restore, so a user written between
copying their file and copying their index shard comes back consistent.

Restore refuses while a bot runs on the target folder (its lock is held) and refuses to mix a
backup into existing data unless ``force``, which moves the old folder aside instead of
deleting it.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from bot.health import HEARTBEAT_FILE
from bot.storage import FileStore
from bot.storage.atomic import DIR_MODE, FILE_MODE, is_temp_name
from bot.storage.errors import StorageError

MANIFEST = "BACKUP.json"
# Not data: the lock belongs to the running process, the heartbeat to its supervisor.
_SKIP = frozenset({"lock", HEARTBEAT_FILE, MANIFEST})
_READ_TRIES = 5


class BackupError(Exception):
    """A backup or restore could not be done; the message is one clear line for the CLI."""


@dataclass
class BackupReport:
    files: int = 0
    bytes: int = 0
    skipped: list[str] = field(default_factory=list)  # unreadable/corrupt files left out


def _is_data_file(rel: Path) -> bool:
    name = rel.name
    return name not in _SKIP and not is_temp_name(name) and name.endswith(".json")


def _read_consistent(path: Path) -> bytes | None:
    """The file's bytes once they parse as JSON; None if it vanished or never parses.

    A replace during the read cannot tear it (we hold the old inode open), so a parse failure
    means the file on disk is corrupt; a few re-reads cover a file replaced just then.
    """
    for _ in range(_READ_TRIES):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None  # deleted meanwhile (e.g. /delete): not part of the data any more
        try:
            json.loads(raw.decode("utf-8"))
            return raw
        except (UnicodeDecodeError, ValueError):
            time.sleep(0.01)
    return None


def _walk(data_dir: Path) -> list[Path]:
    """Data files under ``data_dir``, skipping hidden folders (restore's staging and old data)."""
    found = []
    for root, dirs, files in os.walk(data_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            rel = (Path(root) / name).relative_to(data_dir)
            if _is_data_file(rel):
                found.append(rel)
    return found


def _is_tarball(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


def backup(data_dir: Path, dest: Path | BinaryIO) -> BackupReport:
    """Copy ``data_dir`` to ``dest``: a ``.tar.gz``/``.tgz`` file, a new folder, or a binary
    stream that gets a tar.gz (``backup -`` writes to stdout, e.g. out of a container)."""
    data_dir = Path(data_dir)
    if not (data_dir / "meta.json").is_file():
        raise BackupError(f"{data_dir} is not a Twitch Coach data folder (no meta.json)")
    if isinstance(dest, Path) and dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise BackupError(f"{dest} already exists; choose a new name")
    report = BackupReport()
    entries: list[tuple[str, bytes]] = []
    for rel in _walk(data_dir):
        raw = _read_consistent(data_dir / rel)
        if raw is None:
            if (data_dir / rel).exists():
                report.skipped.append(str(rel))
            continue
        entries.append((rel.as_posix(), raw))
        report.files += 1
        report.bytes += len(raw)
    manifest = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": report.files,
        "skipped": report.skipped,
    }
    entries.append((MANIFEST, json.dumps(manifest, indent=1).encode()))
    if not isinstance(dest, Path):
        _write_tar(dest, entries)
    elif _is_tarball(dest):
        _write_tarball(dest, entries)
    else:
        _write_folder(dest, entries)
    return report


def _write_tar(fh: BinaryIO, entries: list[tuple[str, bytes]]) -> None:
    with tarfile.open(fileobj=fh, mode="w:gz") as tar:
        mtime = time.time()
        for name, raw in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(raw), FILE_MODE, mtime
            tar.addfile(info, io.BytesIO(raw))


def _write_tarball(dest: Path, entries: list[tuple[str, bytes]]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    os.fchmod(fd, FILE_MODE)  # health data: owner only
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_tar(fh, entries)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_folder(dest: Path, entries: list[tuple[str, bytes]]) -> None:
    dest.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    for name, raw in entries:
        target = dest / name
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)


# ---------------------------------------------------------------------- restore


def _lock_if_idle(data_dir: Path) -> int | None:
    """Take the store's lock on an existing data folder so no bot starts meanwhile.

    BackupError if a running bot holds it; None if there is no lock file yet.
    """
    lock = data_dir / "lock"
    if not lock.exists():
        return None
    fd = os.open(lock, os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise BackupError(
            f"the bot is running on {data_dir} (its lock is held): stop it first"
        ) from None
    return fd


def _existing_data(data_dir: Path) -> list[Path]:
    """Top-level entries that are data (not the lock, not earlier restores' leftovers)."""
    if not data_dir.is_dir():
        return []
    return [p for p in data_dir.iterdir() if p.name != "lock" and not p.name.startswith(".")]


def _unpack(src: Path | BinaryIO, into: Path) -> None:
    if not isinstance(src, Path):
        try:
            with tarfile.open(fileobj=src, mode="r|*") as tar:
                tar.extractall(into, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"the input is not a readable backup: {exc}") from exc
        return
    if src.is_dir():
        for rel in _walk(src):
            target = into / rel
            target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
            shutil.copyfile(src / rel, target)
        return
    if not src.is_file():
        raise BackupError(f"{src} does not exist")
    try:
        with tarfile.open(src, mode="r:*") as tar:
            # The "data" filter refuses absolute paths, "..", links out and device files.
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{src} is not a readable backup: {exc}") from exc


def _verify(folder: Path) -> int:
    if not (folder / "meta.json").is_file():
        raise BackupError("the backup has no meta.json: not a Twitch Coach backup")
    count = 0
    for rel in _walk(folder):
        try:
            json.loads((folder / rel).read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise BackupError(f"the backup is damaged: {rel} is not valid JSON") from None
        count += 1
    return count


def restore(
    src: Path | BinaryIO, data_dir: Path, *, force: bool = False
) -> tuple[int, Path | None]:
    """Put backup ``src`` (a .tar.gz, a backup folder or a tar.gz stream) in ``data_dir``.

    Works inside the folder rather than renaming it, so ``data_dir`` may be a mounted volume.
    Returns (files restored, the hidden folder the previous data was moved to, or None).
    """
    data_dir = Path(data_dir)
    lock_fd = _lock_if_idle(data_dir) if data_dir.is_dir() else None
    try:
        existing = _existing_data(data_dir)
        if existing and not force:
            raise BackupError(
                f"{data_dir} already holds data; use --force to move it aside and restore"
            )
        data_dir.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".restore-", dir=data_dir))
        try:
            _unpack(src, staging)
            (staging / MANIFEST).unlink(missing_ok=True)
            count = _verify(staging)
            # Open it as the bot would: checks the layout, fixes modes, makes the folders, and
            # rebuilds the derived index from the user files.
            try:
                with FileStore(staging) as store:
                    store.verify_all()
                    store.rebuild_index()
            except StorageError as exc:
                raise BackupError(f"the backup does not open as a data folder: {exc}") from exc
            moved = None
            if existing:
                stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
                moved = data_dir / f".before-restore-{stamp}"
                moved.mkdir(mode=DIR_MODE)
                for entry in existing:
                    os.replace(entry, moved / entry.name)
            placed = []
            for entry in staging.iterdir():
                if entry.name != "lock":  # keep the lock file we may be holding
                    os.replace(entry, data_dir / entry.name)
                    placed.append(data_dir / entry.name)
            _match_owner(data_dir, placed)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    return count, moved


def _match_owner(data_dir: Path, entries: list[Path]) -> None:
    """Run as root (e.g. `sudo twitch-coach restore` for a systemd DynamicUser service), give
    what was restored the data folder's owner, so the bot can still read and write it."""
    if os.geteuid() != 0:
        return
    st = data_dir.stat()
    for entry in entries:
        paths = [entry] if entry.is_file() else [entry, *entry.rglob("*")]
        for path in paths:
            os.chown(path, st.st_uid, st.st_gid, follow_symlinks=False)
