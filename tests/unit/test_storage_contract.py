"""The storage contract: what every engine of `Store` promises the features. Each test runs on
the file store and on a real PostgreSQL (tests/conftest.py); engine details are tested in
test_storage.py (files) and test_storage_postgres.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.storage import INDEX_FIELDS, Store, UserData
from tests.conftest import Backend

UID = 424242
OTHER = 777001
PROFILE = {"tz": "Europe/Berlin", "tip_time": "09:30", "active": True, "name": "Sam", "pain": 6}
# Text a person might type, and a little more: quotes, backslashes, a NUL and other control
# characters, SQL and JSON look-alikes, emoji, right-to-left text, 4 kB.
ODD_TEXTS = [
    'it\'s "twitchy" today',
    "C:\\Users\\sam\\ \\n not a newline \\u0000 not a NUL",
    "before\x00after",
    "\x01\x02\x1f\x7f tab\there\r\nline",
    "'); DROP TABLE episodes; --",
    '{"id": 5, "doc": null}',
    "⚡️ Zuckung 😖 — ça va? עברית",
    "x" * 4096,
    "é" * 2000 + "\x00" + "\\" * 2000,
]


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    s = backend.store().open()
    yield s
    await s.close()


def reopen(backend: Backend, s: Store) -> Store:
    """Simulate a restart: close and open a new store on the same data."""
    s.close_sync()
    return backend.store().open()


# ---------------------------------------------------------------------- profile and index


async def test_profile_roundtrip_and_update(store: Store) -> None:
    assert await store.get_profile(UID) is None
    await store.save_profile(UID, PROFILE)
    assert await store.get_profile(UID) == PROFILE

    new = await store.update_profile(UID, {"tip_time": "20:00", "pain": 3})
    assert new == {**PROFILE, "tip_time": "20:00", "pain": 3}
    assert await store.get_profile(UID) == new
    assert list(new) == list(PROFILE)  # a merge keeps the key order

    await store.save_profile(UID, {"tz": "UTC"})  # save replaces the whole document
    assert await store.get_profile(UID) == {"tz": "UTC"}


async def test_update_profile_without_profile_raises_keyerror(store: Store) -> None:
    with pytest.raises(KeyError):
        await store.update_profile(UID, {"tz": "UTC"})
    assert store.user_count() == 0 and await store.export_user(UID) == {}


async def test_index_holds_only_index_fields(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    await store.save_profile(OTHER, {"tz": "Asia/Tokyo", "name": "Kai"})
    entries = dict(store.index_entries())
    assert entries == {
        UID: {"tz": "Europe/Berlin", "tip_time": "09:30", "active": True},
        OTHER: {"tz": "Asia/Tokyo"},
    }
    assert set(INDEX_FIELDS) >= set(entries[UID])

    await store.update_profile(UID, {"active": False, "tips_paused_until": "2025-01-02"})
    assert dict(store.index_entries())[UID]["active"] is False
    assert dict(store.index_entries())[UID]["tips_paused_until"] == "2025-01-02"
    assert store.user_count() == 2


async def test_index_updated_by_transact_too(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    await store.transact(UID, lambda data: data.update_profile({"tz": "UTC"}))
    assert dict(store.index_entries())[UID]["tz"] == "UTC"


async def test_index_listeners_hear_changes_only(store: Store) -> None:
    heard: list[tuple[int, dict[str, Any] | None]] = []
    store.index_listeners.append(lambda uid, entry: heard.append((uid, entry)))
    await store.save_profile(UID, PROFILE)
    await store.update_profile(UID, {"name": "Sam 2"})  # not an index field: nothing to hear
    await store.insert(UID, "episodes", {"intensity": 3})
    await store.update_profile(UID, {"tip_time": "07:00"})
    await store.delete_user(UID)
    assert heard == [
        (UID, {"tz": "Europe/Berlin", "tip_time": "09:30", "active": True}),
        (UID, {"tz": "Europe/Berlin", "tip_time": "07:00", "active": True}),
        (UID, None),
    ]


async def test_user_count_counts_anyone_with_data(store: Store) -> None:
    assert store.user_count() == 0
    await store.set_state(UID, "onboarding", 1)  # no profile yet, but a person with data
    await store.save_profile(OTHER, PROFILE)
    assert store.user_count() == 2
    assert store.user_ids() == sorted([UID, OTHER])
    assert [uid for uid, _ in store.index_entries()] == [OTHER]


# ---------------------------------------------------------------------- tables


async def test_generic_table_crud(store: Store) -> None:
    assert await store.all(UID, "episodes") == []
    first = await store.insert(UID, "episodes", {"where": "calf", "severity": 4})
    second = await store.insert(UID, "episodes", {"where": "eyelid", "id": 999})  # "id" ignored
    assert (first, second) == (1, 2)
    assert await store.all(UID, "episodes") == [
        {"id": 1, "where": "calf", "severity": 4},
        {"id": 2, "where": "eyelid"},
    ]
    assert await store.get(UID, "episodes", 2) == {"id": 2, "where": "eyelid"}
    assert await store.get(UID, "episodes", 3) is None

    assert await store.update(UID, "episodes", 1, {"severity": 2, "id": 5}) is True
    assert await store.get(UID, "episodes", 1) == {"id": 1, "where": "calf", "severity": 2}
    assert await store.update(UID, "episodes", 42, {"severity": 1}) is False

    assert await store.remove(UID, "episodes", 1) is True
    assert await store.remove(UID, "episodes", 1) is False
    assert [d["id"] for d in await store.all(UID, "episodes")] == [2]
    assert await store.all(OTHER, "episodes") == []  # people are separate


@pytest.mark.parametrize("table", ["episodes", "tips", "relief_runs", "red_flags", "diary_days"])
async def test_ids_count_per_person_and_table_like_tinydb(store: Store, table: str) -> None:
    # Known tables and one the code does not know yet (another branch's) behave alike.
    assert [await store.insert(UID, table, {"n": n}) for n in range(3)] == [1, 2, 3]
    assert await store.insert(OTHER, table, {"n": 0}) == 1
    await store.remove(UID, table, 3)
    assert await store.insert(UID, table, {"n": 4}) == 3  # the highest id is taken again
    await store.remove(UID, table, 1)
    assert await store.insert(UID, table, {"n": 5}) == 4  # a hole below is not
    assert [d["n"] for d in await store.all(UID, table)] == [1, 4, 5]
    assert await store.transact(UID, lambda data: data.count(table)) == 3


@pytest.mark.parametrize("table", ["profile", "state", "_meta", ""])
async def test_reserved_table_names_rejected(store: Store, table: str) -> None:
    with pytest.raises(ValueError):
        await store.insert(UID, table, {"x": 1})


@pytest.mark.parametrize("uid", ["123", 1.5, True, None])
async def test_uid_must_be_int(store: Store, uid: object) -> None:
    with pytest.raises(TypeError):
        await store.get_profile(uid)  # type: ignore[arg-type]


async def test_reads_of_unknown_person_create_nothing(store: Store) -> None:
    assert await store.get_profile(UID) is None
    assert await store.get_state(UID, "x") is None
    await store.clear_state(UID, "x")
    assert await store.all(UID, "episodes") == [] and await store.get(UID, "episodes", 1) is None
    assert await store.export_user(UID) == {}
    assert store.user_count() == 0


async def test_data_json_cannot_represent_is_rejected_before_storing(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    before = await store.export_user(UID)
    with pytest.raises(TypeError):
        await store.insert(UID, "episodes", {"when": object()})
    with pytest.raises(ValueError):
        await store.insert(UID, "episodes", {"score": float("nan")})
    with pytest.raises(ValueError):
        await store.update_profile(UID, {"name": "\ud800"})  # a lone surrogate: not UTF-8
    assert await store.export_user(UID) == before


# ---------------------------------------------------------------------- state


async def test_state_set_get_clear_and_survives_restart(backend: Backend, store: Store) -> None:
    await store.set_state(UID, "checkin", {"step": 2, "answers": ["calf"]})
    await store.set_state(UID, "relief", "breathing")
    await store.set_state(UID, "relief", "stretch")  # overwrite
    store = reopen(backend, store)
    assert await store.get_state(UID, "checkin") == {"step": 2, "answers": ["calf"]}
    assert await store.get_state(UID, "relief") == "stretch"
    await store.clear_state(UID, "checkin")
    assert await store.get_state(UID, "checkin") is None
    assert await store.get_state(UID, "relief") == "stretch"
    await store.clear_state(UID, "relief")
    assert "state" not in await store.export_user(UID)
    with pytest.raises(TypeError):
        await store.set_state(UID, 5, "x")  # type: ignore[arg-type]
    await store.close()


async def test_userdata_state_keys_cleared_together_and_empty_state_dropped(store: Store) -> None:
    await store.transact(UID, lambda data: data.set_state({"a": 1, "b": 2, "c": 3}))
    await store.transact(UID, lambda data: data.clear_state("a", "b", "missing"))
    assert await store.get_state(UID, "c") == 3 and await store.get_state(UID, "a") is None
    await store.transact(UID, lambda data: data.clear_state("c"))
    assert "state" not in await store.export_user(UID)


# ---------------------------------------------------------------------- units of work


async def test_transact_applies_many_changes_at_once(store: Store) -> None:
    def many_changes(data: UserData) -> int:
        for n in range(10):
            data.insert("tips", {"n": n})
        data.remove("tips", 1)
        return data.count("tips")

    assert await store.transact(UID, many_changes) == 9
    assert [d["n"] for d in await store.all(UID, "tips")] == list(range(1, 10))


async def test_transact_that_raises_writes_nothing(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    await store.insert(UID, "tips", {"n": 0})
    before = await store.export_user(UID)

    def fails(data: UserData) -> None:
        data.insert("tips", {"n": 1})
        data.remove("tips", 1)
        data.set_state({"draft": {"x": 1}})
        data.update_profile({"tz": "UTC"})
        data.insert("diary_days", {"day": "2026-11-25"})
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await store.transact(UID, fails)
    assert await store.export_user(UID) == before
    assert dict(store.index_entries())[UID]["tz"] == "Europe/Berlin"


async def test_transact_sync_twin(store: Store) -> None:
    assert store.transact_sync(UID, lambda data: data.insert("feedback", {"ok": True})) == 1
    assert store.all_sync(UID, "feedback") == [{"id": 1, "ok": True}]


async def test_userdata_reads_see_earlier_writes_in_the_same_unit(store: Store) -> None:
    def op(data: UserData) -> tuple[int, list[str], dict | None, Any]:
        first = data.insert("episodes", {"n": 1, "id": 99})  # a given "id" is ignored
        data.update("episodes", first, {"n": 2})
        data.insert("diary_days", {"day": 1})
        data.set_state({"k": "v"})
        return data.count("episodes"), data.tables(), data.get("episodes", first), data.state("k")

    assert await store.transact(UID, op) == (1, ["diary_days", "episodes"], {"id": 1, "n": 2}, "v")


async def test_values_handed_out_are_copies(store: Store) -> None:
    await store.save_profile(UID, {"topics": ["sleep"]})

    def mutate_without_saving(data: UserData) -> None:
        profile = data.profile()
        assert profile is not None
        profile["topics"].append("stress")

    await store.transact(UID, mutate_without_saving)
    assert await store.get_profile(UID) == {"topics": ["sleep"]}


# ---------------------------------------------------------------------- export, import, delete


async def test_export_user_returns_all_tables_as_plain_json(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    await store.insert(UID, "episodes", {"where": "calf", "tags": ["cold", "stress"]})
    await store.insert(UID, "diary_days", {"day": "2026-11-25", "sleep": 3})
    await store.set_state(UID, "flow", {"step": 1})
    removed = await store.insert(UID, "tips", {"n": 1})
    await store.remove(UID, "tips", removed)  # an emptied table is not exported
    exported = await store.export_user(UID)
    assert exported == {
        "diary_days": [{"id": 1, "day": "2026-11-25", "sleep": 3}],
        "episodes": [{"id": 1, "where": "calf", "tags": ["cold", "stress"]}],
        "profile": [{"id": 1, **PROFILE}],
        "state": [{"id": 1, "flow": {"step": 1}}],
    }
    assert list(exported) == sorted(exported)
    assert json.loads(json.dumps(exported)) == exported


async def test_odd_text_is_stored_and_exported_verbatim(backend: Backend, store: Store) -> None:
    """Quotes, backslashes, NUL and control characters, 4 kB: the same bytes come back, in
    the same key order, after a restart too (PostgreSQL keeps documents as json, which holds
    "\\u0000"; jsonb and text would refuse it)."""
    docs = [{"note": text, "z_last": 1, "a_first": 2} for text in ODD_TEXTS]
    for doc in docs:
        await store.insert(UID, "episodes", doc)
    await store.save_profile(UID, {"name": ODD_TEXTS[2], "bio": ODD_TEXTS[7]})
    await store.set_state(UID, "draft", {"note": ODD_TEXTS[1]})
    expected = json.dumps(await store.export_user(UID), ensure_ascii=False)
    store = reopen(backend, store)
    exported = await store.export_user(UID)
    assert [{k: v for k, v in d.items() if k != "id"} for d in exported["episodes"]] == docs
    assert [list(d) for d in exported["episodes"]] == [["id", "note", "z_last", "a_first"]] * 9
    assert json.dumps(exported, ensure_ascii=False) == expected
    assert (await store.get_profile(UID) or {})["name"] == "before\x00after"
    await store.close()


async def test_import_user_replaces_everything_and_round_trips(store: Store) -> None:
    await store.save_profile(UID, PROFILE)
    for n in range(1, 6):
        await store.insert(UID, "episodes", {"n": n})
    await store.remove(UID, "episodes", 2)  # ids with a hole
    await store.insert(UID, "diary_days", {"day": "2026-11-25"})
    await store.set_state(UID, "flow", {"step": 1})
    exported = await store.export_user(UID)

    await store.save_profile(OTHER, {"tz": "UTC"})
    await store.insert(OTHER, "tips", {"old": True})
    await store.import_user(OTHER, exported)
    assert await store.export_user(OTHER) == exported
    assert dict(store.index_entries())[OTHER] == dict(store.index_entries())[UID]
    assert await store.insert(OTHER, "episodes", {"n": 6}) == 6  # ids go on from the copy

    await store.import_user(OTHER, {})  # nothing: the person is gone
    assert await store.export_user(OTHER) == {} and OTHER not in dict(store.index_entries())


@pytest.mark.parametrize(
    "bad",
    [
        {"episodes": [{"n": 1}]},  # no id
        {"episodes": [{"id": 1}, {"id": 1}]},  # duplicate ids
        {"episodes": []},  # empty table
        {"profile": [{"id": 2, "tz": "UTC"}]},  # the profile is document 1
        {"": [{"id": 1}]},
        ["not", "a", "dict"],
    ],
)
async def test_import_user_refuses_what_is_not_an_export(store: Store, bad: Any) -> None:
    await store.insert(UID, "episodes", {"kept": True})
    with pytest.raises(ValueError):
        await store.import_user(UID, bad)
    assert await store.all(UID, "episodes") == [{"id": 1, "kept": True}]


async def test_delete_user_removes_everything(store: Store) -> None:
    uid = 918273645
    await store.save_profile(uid, PROFILE)
    await store.insert(uid, "episodes", {"where": "calf"})
    await store.insert(uid, "diary_days", {"day": 1})
    await store.set_state(uid, "flow", 1)
    await store.save_profile(OTHER, PROFILE)
    await store.delete_user(uid)
    assert await store.get_profile(uid) is None and await store.export_user(uid) == {}
    assert [u for u, _ in store.index_entries()] == [OTHER]
    assert store.user_ids() == [OTHER]
    assert await store.get_profile(OTHER) == PROFILE
    await store.delete_user(uid)  # idempotent


async def test_delete_user_does_not_touch_similar_uids(store: Store) -> None:
    for uid in (12, 12 + 256, 1200, -12):
        await store.save_profile(uid, {"tz": "UTC"})
    await store.delete_user(12)
    assert {u for u, _ in store.index_entries()} == {12 + 256, 1200, -12}


# ---------------------------------------------------------------------- concurrency


async def test_concurrent_updates_for_one_person_all_land(store: Store) -> None:
    doc_id = await store.insert(UID, "checkins", {"day": "mon"})
    await asyncio.gather(
        *(store.update(UID, "checkins", doc_id, {f"field{n}": n}) for n in range(100))
    )
    doc = await store.get(UID, "checkins", doc_id)
    assert doc is not None
    assert all(doc[f"field{n}"] == n for n in range(100))


async def test_concurrent_read_modify_write_no_lost_update(store: Store) -> None:
    await store.save_profile(UID, {"count": 0})

    def bump(data: UserData) -> None:
        data.update_profile({"count": (data.profile() or {})["count"] + 1})

    await asyncio.gather(
        *(store.transact(UID, bump) for _ in range(50)),
        *(store.insert(uid, "tips", {"n": 1}) for uid in range(50)),  # other people meanwhile
    )
    assert (await store.get_profile(UID) or {})["count"] == 50
    assert store.user_count() == 51


async def test_sync_twins_from_threads_serialise_per_person(store: Store) -> None:
    """CLI tools and copy-store call the *_sync twins from plain threads."""
    await store.save_profile(UID, {"count": 0})

    def bump(data: UserData) -> None:
        data.update_profile({"count": (data.profile() or {})["count"] + 1})

    await asyncio.gather(*(asyncio.to_thread(store.transact_sync, UID, bump) for _ in range(30)))
    assert (await store.get_profile(UID) or {})["count"] == 30
