"""Backups taken while the store is writing restore to a folder the bot can open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
from pathlib import Path

import pytest

from bot.backup import BackupError, backup, restore
from bot.storage import FileStore

USERS = range(1, 41)


def _writer(store: FileStore, stop: threading.Event, rounds: list[int]) -> None:
    n = 0
    while not stop.is_set():
        for uid in USERS:
            store.save_profile_sync(uid, {"tz": "Europe/Berlin", "tip_time": f"07:{n % 60:02d}"})
            store.insert_sync(uid, "episodes", {"intensity": n % 11, "note": "x" * (n % 50)})
            rounds.append(n)  # one entry per user written
        n += 1


@pytest.mark.parametrize("name", ["backup.tar.gz", "backup-folder"])
def test_backup_during_writes_restores_to_a_loadable_folder(tmp_path: Path, name: str) -> None:
    live = tmp_path / "live"
    stop, rounds = threading.Event(), []
    with FileStore(live, fsync=False) as store:
        store.save_profile_sync(999, {"tz": "UTC"})  # written before: must be in every backup
        thread = threading.Thread(target=_writer, args=(store, stop, rounds))
        thread.start()
        try:
            while len(rounds) < 2 * len(USERS):  # let the writes get going
                threading.Event().wait(0.01)
            before = len(rounds)
            report = backup(live, tmp_path / name)  # the bot holds the lock meanwhile
            during = len(rounds) - before
        finally:
            stop.set()
            thread.join()
    assert during > 0, "the writer should have written while the backup ran"
    assert report.skipped == []

    restored = tmp_path / "restored"
    count, moved = restore(tmp_path / name, restored)
    assert moved is None and count == report.files
    with FileStore(restored) as store:
        assert store.verify_all() == []  # no file had to be quarantined
        assert store.get_profile_sync(999) == {"tz": "UTC"}
        index = dict(store.index_entries())
        for uid in USERS:
            profile = store.get_profile_sync(uid)
            if profile is None:
                continue  # not written yet when its folder was copied
            # The index was rebuilt from the user files: it agrees with them.
            assert index[uid]["tip_time"] == profile["tip_time"]
            assert all("intensity" in e for e in store.all_sync(uid, "episodes"))


def test_backup_leaves_out_lock_heartbeat_and_temp_files(tmp_path: Path) -> None:
    live = tmp_path / "live"
    with FileStore(live) as store:
        store.save_profile_sync(5, {"tz": "UTC"})
        (live / "heartbeat.json").write_text("{}")
        (live / "users" / "05" / ".5.json.tmp-1-abcd").write_text("{half")
        backup(live, tmp_path / "b.tgz")
    with tarfile.open(tmp_path / "b.tgz") as tar:
        names = set(tar.getnames())
    assert "users/05/5.json" in names and "meta.json" in names and "BACKUP.json" in names
    assert not {"lock", "heartbeat.json"} & names
    assert not [n for n in names if ".tmp-" in n]


def test_restore_refuses_while_the_bot_runs_and_over_data_without_force(tmp_path: Path) -> None:
    live = tmp_path / "live"
    with FileStore(live) as store:
        store.save_profile_sync(7, {"tz": "UTC", "tip_time": "09:00"})
        backup(live, tmp_path / "b.tar.gz")
        with pytest.raises(BackupError, match="running"):
            restore(tmp_path / "b.tar.gz", live, force=True)
        store.save_profile_sync(7, {"tz": "UTC", "tip_time": "10:00"})
    with pytest.raises(BackupError, match="--force"):
        restore(tmp_path / "b.tar.gz", live)
    _count, moved = restore(tmp_path / "b.tar.gz", live, force=True)
    assert moved is not None and moved.parent == live  # kept, inside the (maybe mounted) folder
    with FileStore(live) as store:
        assert store.get_profile_sync(7)["tip_time"] == "09:00"
    old = json.loads((moved / "users" / "07" / "7.json").read_text())
    assert old["profile"]["1"]["tip_time"] == "10:00"
    backup(live, tmp_path / "again")  # the moved-aside copy is not part of the next backup
    assert not (tmp_path / "again" / moved.name).exists()


def test_damaged_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    live = tmp_path / "live"
    with FileStore(live) as store:
        store.save_profile_sync(8, {"tz": "UTC"})
    backup(live, tmp_path / "b")
    (tmp_path / "b" / "users" / "08" / "8.json").write_text('{"profile": ')
    target = tmp_path / "target"
    with pytest.raises(BackupError, match="not valid JSON"):
        restore(tmp_path / "b", target)
    assert not target.exists() or not [p for p in target.iterdir() if p.name != "lock"]
    with pytest.raises(BackupError, match="already exists"):
        backup(live, tmp_path / "b")


def test_cli_backup_to_stdout_and_restore_from_stdin(tmp_path: Path) -> None:
    """`backup -` / `restore -` stream a tar.gz, e.g. out of and into a container."""
    live, new = tmp_path / "live", tmp_path / "new"
    with FileStore(live) as store:
        store.save_profile_sync(11, {"tz": "UTC", "tip_time": "06:30"})
    env = {**os.environ, "COACH_DATA_DIR": str(live)}
    cli = [sys.executable, "-m", "bot"]
    out = subprocess.run([*cli, "backup", "-"], env=env, capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert b"backup written to stdout" in out.stderr
    env["COACH_DATA_DIR"] = str(new)
    res = subprocess.run(
        [*cli, "restore", "-"], env=env, input=out.stdout, capture_output=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    with FileStore(new) as store:
        assert store.get_profile_sync(11)["tip_time"] == "06:30"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_restore_as_root_gives_files_the_data_folders_owner(tmp_path: Path) -> None:
    live, target = tmp_path / "live", tmp_path / "target"
    with FileStore(live) as store:
        store.save_profile_sync(12, {"tz": "UTC"})
    backup(live, tmp_path / "b.tgz")
    target.mkdir()
    os.chown(target, 12345, 12345)  # e.g. a systemd DynamicUser's state folder
    restore(tmp_path / "b.tgz", target)
    owners = {(p.stat().st_uid, p.stat().st_gid) for p in target.rglob("*") if p.name != "lock"}
    assert owners == {(12345, 12345)}
