"""The file store itself (FileStore): layout, permissions, one write per unit, corruption,
migrations, disk failures. What every engine promises is in test_storage_contract.py."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import stat
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.storage import (
    AtomicJSONStorage,
    StorageError,
    StorageWriteError,
    UserData,
    atomic,
)
from bot.storage import (
    FileStore as Store,
)
from bot.storage import files as store_mod

UID = 424242
OTHER = 777001
PROFILE = {"tz": "Europe/Berlin", "tip_time": "09:30", "active": True, "name": "Sam", "pain": 6}
CORRUPT_NAME = re.compile(r".+\.json\.corrupt-\d{8}T\d{6}Z(-\d+)?")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def store(data_dir: Path):
    s = Store(data_dir).open()
    yield s
    await s.close()


def reopen(s: Store) -> Store:
    """Simulate a restart: close and open a new Store on the same folder."""
    s.close_sync()
    return Store(s.data_dir).open()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if atomic.is_temp_name(p.name)]


# ---------------------------------------------------------------------- layout, lifecycle


async def test_layout_and_permissions_ignore_umask(data_dir: Path) -> None:
    old_umask = os.umask(0)  # the most permissive umask: modes must still be private
    try:
        s = Store(data_dir).open()
        await s.save_profile(UID, PROFILE)
    finally:
        os.umask(old_umask)
    dirs = [data_dir, data_dir / "users", data_dir / "index", s.user_path(UID).parent]
    assert all(mode(d) == 0o700 for d in dirs)
    assert len(list((data_dir / "users").iterdir())) == 256
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert data_dir / "meta.json" in files and s.user_path(UID) in files
    assert all(mode(f) == 0o600 for f in files)
    assert json.loads((data_dir / "meta.json").read_text()) == {"schema": store_mod.LAYOUT_VERSION}
    assert s.user_path(UID) == data_dir / "users" / f"{UID % 256:02x}" / f"{UID}.json"
    await s.close()


async def test_open_tightens_existing_dir_modes(data_dir: Path) -> None:
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    with Store(data_dir):
        assert mode(data_dir) == 0o700


async def test_second_store_on_same_folder_is_refused(store: Store) -> None:
    with pytest.raises(StorageError, match="in use"):
        Store(store.data_dir).open()
    store.close_sync()
    Store(store.data_dir).open().close_sync()  # free again after close


async def test_unsupported_layout_is_refused(data_dir: Path) -> None:
    data_dir.mkdir()
    (data_dir / "meta.json").write_text('{"schema": 99}')
    with pytest.raises(StorageError, match="layout"):
        Store(data_dir).open()


async def test_operations_need_open(data_dir: Path) -> None:
    with pytest.raises(StorageError, match="not open"):
        await Store(data_dir).get_profile(UID)


async def test_stale_temp_files_removed_on_open(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    leftover = store.user_path(UID).with_name(f".{UID}.json.tmp-1-abcd")
    leftover.write_text('{"half": ')
    store = reopen(store)
    assert not leftover.exists()
    assert await store.get_profile(UID) == PROFILE
    await store.close()


# ---------------------------------------------------------------------- profile and index


async def test_profile_write_repairs_stale_index_entry(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    # A crash between the user-file write and the index write leaves the entry stale.
    store._sync_index(UID, {"tz": "stale"})
    await store.update_profile(UID, {"name": "Sam 2"})  # no index field changes
    assert dict(store.index_entries())[UID]["tz"] == "Europe/Berlin"

    store._sync_index(UID, {"tz": "stale"})
    store.rebuild_index()
    assert dict(store.index_entries())[UID]["tz"] == "Europe/Berlin"


# ---------------------------------------------------------------------- no needless files


async def test_reads_of_unknown_user_create_no_file(store: Store) -> None:
    assert await store.get_profile(UID) is None
    assert await store.get_state(UID, "x") is None
    await store.clear_state(UID, "x")
    assert await store.export_user(UID) == {}
    assert not store.user_path(UID).exists()


async def test_data_json_cannot_represent_is_rejected_before_disk(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    before = store.user_path(UID).read_bytes()
    with pytest.raises(TypeError):
        await store.insert(UID, "episodes", {"when": object()})
    with pytest.raises(ValueError):
        await store.insert(UID, "episodes", {"score": float("nan")})
    assert store.user_path(UID).read_bytes() == before
    assert temp_files(store.data_dir) == []


# ---------------------------------------------------------------------- transact


async def test_transact_writes_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[Path] = []
    real = store_mod.write_json_atomic
    monkeypatch.setattr(
        store_mod, "write_json_atomic", lambda p, d, **kw: (writes.append(p), real(p, d, **kw))
    )

    def every_kind_of_change(data: UserData) -> None:
        data.set_state({"draft": 1})
        first = data.insert("tips", {"n": 0})
        data.insert("tips", {"n": 1})
        data.remove("tips", first)

    await store.transact(UID, every_kind_of_change)
    assert writes == [store.user_path(UID)]


async def test_transact_that_raises_writes_nothing(store: Store) -> None:
    await store.insert(UID, "tips", {"n": 0})
    before = store.user_path(UID).read_bytes()

    def fails(data: UserData) -> None:
        data.insert("tips", {"n": 1})
        data.remove("tips", 1)
        data.set_state({"draft": {"x": 1}})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.transact(UID, fails)
    assert store.user_path(UID).read_bytes() == before
    assert await store.all(UID, "tips") == [{"id": 1, "n": 0}]


# ---------------------------------------------------------------------- delete


async def test_delete_user_leaves_nothing_on_disk(store: Store) -> None:
    uid = 918273645  # distinctive: no other number on disk contains it
    await store.save_profile(uid, PROFILE)
    await store.insert(uid, "episodes", {"where": "calf"})
    await store.set_state(uid, "flow", 1)
    await store.save_profile(OTHER, PROFILE)
    path = store.user_path(uid)
    # Leftovers that must go too: a quarantined copy, a temp file, a quarantined index shard.
    path.with_name(f"{uid}.json.corrupt-20250101T000000Z").write_text("{bad")
    path.with_name(f".{uid}.json.tmp-1-ffff").write_text("{half")
    shard = store.data_dir / "index" / f"{uid % 64:02d}.json.corrupt-20250101T000000Z"
    shard.write_text(f'{{"{uid}": {{"tz": "UTC"')

    await store.delete_user(uid)

    for p in store.data_dir.rglob("*"):
        assert str(uid) not in p.name
        if p.is_file():
            assert str(uid).encode() not in p.read_bytes(), p
    assert await store.get_profile(uid) is None
    assert [u for u, _ in store.index_entries()] == [OTHER]
    assert await store.get_profile(OTHER) == PROFILE
    await store.delete_user(uid)  # idempotent


# ---------------------------------------------------------------------- corruption


@pytest.mark.parametrize(
    "content",
    [
        b'{"profile": {"1": {"pain": "SECRET_HEALTH"',  # truncated JSON
        b'["SECRET_HEALTH"]',  # not an object
        b'{"profile": ["SECRET_HEALTH"]}',  # table not an object
        b'{"profile": {"one": {"pain": "SECRET_HEALTH"}}}',  # bad document id
        b'{"profile": {"1": "SECRET_HEALTH"}}',  # document not an object
        b'{"_meta": {"1": {"schema": "SECRET_HEALTH"}}}',  # bad schema version
        b"\xff\xfeSECRET_HEALTH",  # not UTF-8
    ],
)
async def test_corrupt_user_file_moved_aside_others_unaffected(
    store: Store, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    await store.save_profile(UID, PROFILE)
    await store.save_profile(OTHER, PROFILE)
    store.user_path(UID).write_bytes(content)

    with caplog.at_level(logging.WARNING, logger="bot.storage"):
        assert await store.get_profile(UID) is None  # treated as a new user

    aside = [p for p in store.user_path(UID).parent.iterdir() if CORRUPT_NAME.fullmatch(p.name)]
    assert len(aside) == 1 and aside[0].read_bytes() == content
    assert not store.user_path(UID).exists()
    assert str(store.user_path(UID)) in caplog.text
    assert "SECRET_HEALTH" not in caplog.text
    assert UID not in dict(store.index_entries())  # no profile any more
    assert await store.get_profile(OTHER) == PROFILE

    await store.save_profile(UID, {"tz": "UTC"})  # the user can start again
    assert await store.get_profile(UID) == {"tz": "UTC"}


async def test_verify_all_quarantines_only_corrupt_files(store: Store) -> None:
    for uid in (1, 2, 3):
        await store.save_profile(uid, PROFILE)
    store.user_path(2).write_text("{nope")
    moved = store.verify_all()
    assert [p.name for p in moved] == [p.name for p in moved if CORRUPT_NAME.fullmatch(p.name)]
    assert len(moved) == 1 and moved[0].read_text() == "{nope"
    assert store.verify_all() == []
    assert {u for u, _ in store.index_entries()} == {1, 3}


async def test_corrupt_index_shard_is_rebuilt_on_open(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    uids = [5, 5 + 64, 5 + 64 * 7, 6]  # the first three share shard 05
    for uid in uids:
        await store.save_profile(uid, {**PROFILE, "tz": f"Zone/{uid}"})
    expected = dict(store.index_entries())
    shard = store.data_dir / "index" / "05.json"
    shard.write_text('{"5": {"tz": "SECRET')
    store.close_sync()

    with caplog.at_level(logging.WARNING, logger="bot.storage"):
        store = Store(store.data_dir).open()
    assert dict(store.index_entries()) == expected
    assert [p.name for p in shard.parent.glob("05.json.corrupt-*")] != []
    assert "SECRET" not in caplog.text and str(shard) in caplog.text
    await store.close()


# ---------------------------------------------------------------------- migrations


async def test_migration_applied_on_first_open(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.save_profile(UID, {"zone": "Europe/Rome", "name": "Ada"})  # schema 1 layout
    assert UID in dict(store.index_entries())
    calls: list[int] = []

    def v1_to_v2(data: dict) -> None:
        calls.append(1)
        profile = data["profile"]["1"]
        profile["tz"] = profile.pop("zone")

    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(store_mod, "MIGRATIONS", {1: v1_to_v2})

    assert await store.get_profile(UID) == {"tz": "Europe/Rome", "name": "Ada"}
    raw = json.loads(store.user_path(UID).read_text())
    assert raw["_meta"] == {"1": {"schema": 2}}  # persisted: migrated only once
    assert dict(store.index_entries())[UID] == {"tz": "Europe/Rome"}
    await store.get_profile(UID)
    assert calls == [1]


async def test_newer_schema_or_missing_migration_is_an_error(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.save_profile(UID, PROFILE)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 0)
    with pytest.raises(StorageError, match="newer"):
        await store.get_profile(UID)
    monkeypatch.setattr(store_mod, "SCHEMA_VERSION", 3)
    with pytest.raises(StorageError, match="migration"):
        await store.get_profile(UID)
    assert store.user_path(UID).exists()  # never quarantined for that


# ---------------------------------------------------------------------- write failures


@pytest.mark.parametrize("failing", ["replace", "fsync", "write", "open"])
async def test_write_failure_raises_and_keeps_old_file(
    store: Store, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    await store.save_profile(UID, PROFILE)
    path = store.user_path(UID)
    before = path.read_bytes()
    real = getattr(os, failing)

    def disk_full(target: object, *args: object, **kwargs: object) -> object:
        # Fail only for our user's temp file: pytest itself may call os.* meanwhile.
        name = os.readlink(f"/proc/self/fd/{target}") if isinstance(target, int) else str(target)
        if f".{UID}.json.tmp-" not in name:
            return real(target, *args, **kwargs)
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, failing, disk_full)
        with pytest.raises(StorageWriteError):
            await store.update_profile(UID, {"pain": 9})
    assert path.read_bytes() == before
    assert temp_files(store.data_dir) == []
    assert await store.get_profile(UID) == PROFILE  # and the store carries on
    assert await store.update_profile(UID, {"pain": 9}) == {**PROFILE, "pain": 9}


async def test_storage_write_error_is_a_storage_error() -> None:
    assert issubclass(StorageWriteError, StorageError)


# ---------------------------------------------------------------------- AtomicJSONStorage


def test_atomic_storage_with_plain_tinydb(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    with TinyDB(path, storage=AtomicJSONStorage) as db:
        db.insert({"word": "Zuckung", "emoji": "⚡"})
        db.table("other").insert({"x": 1})
    raw = path.read_text(encoding="utf-8")
    assert "⚡" in raw and "\n" not in raw and ": " not in raw  # compact, not ASCII-escaped
    assert mode(path) == 0o600
    assert temp_files(tmp_path) == []
    with TinyDB(path, storage=AtomicJSONStorage, fsync=False) as db:
        assert db.all() == [{"word": "Zuckung", "emoji": "⚡"}]
        db.insert({"n": 2})
    assert len(TinyDB(path, storage=AtomicJSONStorage).all()) == 2


def test_atomic_storage_missing_or_empty_file_reads_none(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    assert AtomicJSONStorage(path).read() is None
    path.write_text("  \n")
    assert AtomicJSONStorage(path).read() is None
    path.write_text("[1]")
    with pytest.raises(ValueError):
        AtomicJSONStorage(path).read()


async def test_userdata_state_keys_cleared_together_and_empty_state_dropped(store: Store) -> None:
    await store.transact(UID, lambda data: data.set_state({"a": 1, "b": 2, "c": 3}))
    await store.transact(UID, lambda data: data.clear_state("a", "b", "missing"))
    assert await store.get_state(UID, "c") == 3 and await store.get_state(UID, "a") is None
    await store.transact(UID, lambda data: data.clear_state("c"))
    assert "state" not in json.loads(store.user_path(UID).read_text())




def test_store_of_a_folder_is_the_file_store(tmp_path: Path) -> None:
    """`Store(data_dir)`, as code wrote it before there were two engines, is the file store."""
    from bot.storage import Store as AnyStore

    with AnyStore(tmp_path / "data") as store:
        assert type(store) is Store and store.data_dir == tmp_path / "data"
        store.save_profile_sync(UID, PROFILE)
        assert store.get_profile_sync(UID) == PROFILE
