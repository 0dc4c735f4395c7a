"""Faults on PostgreSQL, with the real bot and a real server of the suite's own (these trials
stop and start it):

- the server stopped while people check in, then started again: they are told "couldn't
  save, try again", nothing is half-written, and the same bot process saves again afterwards;
- kill -9 of the bot in the middle of a transaction (held there deterministically) and at
  random moments: nothing half-written, every confirmed check-in stored once;
- the pool exhausted: requests wait at most the pool timeout, then get the same clear message;
- odd notes (quotes, backslashes, NUL, 4 kB) through the bot: stored and exported verbatim.

"Half-written" is checked from outside the store: every stored episode is a complete, valid
record, no note is stored twice, no transaction or advisory lock is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import json
import random
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.content import load_content
from bot.domain.checkin import InvalidEpisode, choices_of, validate_episode
from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.storage.postgres import PostgresStore
from tests.e2e.harness import BotHarness, onboard
from tests.faults.conftest import CAPTURE, FIGURES
from tests.faults.flows import checkin_until_note, onboard_robust, wait_for
from tests.faults.test_kill9 import (
    Tally,
    keep_checking_in,
    kill,
    kill_trials,
    start_bot,
    until_polling,
)
from tests.pgcluster import PgCluster

SAVE_FAILED = load_content().t("common.save_failed")
_names = (f"fault_{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def cluster() -> Iterator[PgCluster]:
    """A server of this module's own: the trials stop, start and starve it."""
    with PgCluster() as c:
        yield c


@pytest.fixture
def url(cluster: PgCluster) -> str:
    url = cluster.create_database(next(_names))
    PostgresStore(url).open().close_sync()  # the schema
    return url


class PgHarness(BotHarness):
    """The in-process bot on PostgreSQL with a short pool wait (and pool size if given)."""

    def __init__(self, *args: Any, pool_timeout: float, pool_size: int = 8, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.pool = {"db_pool_timeout": pool_timeout, "db_pool_size": pool_size}

    @property
    def settings(self) -> Settings:
        return dataclasses.replace(super().settings, **self.pool)


@contextlib.asynccontextmanager
async def pg_bot(
    loopback: LoopbackBotAPI, tmp_path: Path, url: str, **pool: Any
) -> AsyncIterator[PgHarness]:
    bot = PgHarness(loopback, tmp_path / "data", ManualClock(), database_url=url, **pool)
    await bot.start()
    try:
        yield bot
    finally:
        await bot.stop()


# ---------------------------------------------------------------------- the audit


@dataclass
class Audit:
    confirmed: int = 0
    lost: int = 0  # confirmed but not stored
    duplicated: int = 0  # a note stored twice
    half_written: int = 0  # a stored episode that is not a complete, valid record
    unconfirmed: int = 0  # stored, but the person never saw "Saved" (in flight at a fault)
    leftovers: list[str] = field(default_factory=list)  # open transactions, advisory locks

    def figure(self) -> str:
        return (
            f"{self.confirmed} confirmed check-ins: {self.lost} lost, {self.half_written} "
            f"half-written, {self.duplicated} duplicated ({self.unconfirmed} stored while "
            "their confirmation was cut off)"
        )


def audit(url: str, confirmed: dict[int, list[str]], *, expect_idle: bool = True) -> Audit:
    """Read what is stored from outside the bot and compare with what people were told."""
    choices = choices_of(load_content().vocabulary)
    result = Audit(confirmed=sum(len(notes) for notes in confirmed.values()))
    with PostgresStore(url) as store:
        for uid, notes in confirmed.items():
            episodes = store.all_sync(uid, "episodes")
            stored = [e.get("note") for e in episodes]
            for episode in episodes:
                try:
                    validate_episode({k: v for k, v in episode.items() if k != "id"}, choices)
                except InvalidEpisode:
                    result.half_written += 1
            result.lost += sum(1 for note in notes if note not in stored)
            result.duplicated += len(stored) - len(set(stored))
            result.unconfirmed += sum(1 for note in stored if note and note not in notes)
    if expect_idle:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT 'transaction open: ' || state FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                "AND xact_start IS NOT NULL "
                "UNION ALL SELECT 'advisory lock ' || objid FROM pg_locks "
                "WHERE locktype = 'advisory' AND pid <> pg_backend_pid()"
            ).fetchall()
            result.leftovers = [r[0] for r in rows]
    return result


def told_to_retry(user: FakeUser) -> int:
    """How often the person read "couldn't save, try again" (message or button alert)."""
    texts = [m.text for m in user.events] + [a.text or "" for a in user.callback_answers]
    return sum(SAVE_FAILED in text for text in texts)


# ---------------------------------------------------------------------- server stopped


async def _server_outage(
    loopback: LoopbackBotAPI, tmp_path: Path, cluster: PgCluster, url: str, rounds: int
) -> dict[str, Any]:
    rng = random.Random(f"outage-{rounds}")
    async with pg_bot(loopback, tmp_path, url, pool_timeout=1.0) as bot:
        users = [await onboard(bot, 8_100 + n) for n in range(4)]
        confirmed: dict[int, list[str]] = {u.user_id: [] for u in users}
        for u in users:
            u.mark_seen()
        tasks = [
            asyncio.create_task(keep_checking_in(u, confirmed[u.user_id], 900 + rounds))
            for u in users
        ]
        recoveries = []
        try:
            for _ in range(rounds):
                await asyncio.sleep(rng.uniform(1.0, 2.5))
                during = sum(map(len, confirmed.values()))
                await asyncio.to_thread(cluster.stop_server, "fast")
                await asyncio.sleep(rng.uniform(2.0, 4.0))  # people keep tapping meanwhile
                await asyncio.to_thread(cluster.start_server)
                back = time.monotonic()
                stopped_at = sum(map(len, confirmed.values()))
                async with asyncio.timeout(60):  # the same bot process saves again
                    while sum(map(len, confirmed.values())) <= stopped_at:
                        await asyncio.sleep(0.05)
                recoveries.append(time.monotonic() - back)
                assert stopped_at >= during
            await asyncio.sleep(1.0)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        told = sum(told_to_retry(u) for u in users)
    result = audit(url, confirmed)
    return {"audit": result, "told": told, "recoveries": recoveries}


async def _outage_suite(
    loopback: LoopbackBotAPI, tmp_path: Path, cluster: PgCluster, url: str, rounds: int
) -> None:
    figures = await _server_outage(loopback, tmp_path, cluster, url, rounds)
    result: Audit = figures["audit"]
    FIGURES[f"PostgreSQL stopped and started while 4 people check in ({rounds} outages)"] = (
        f"{result.figure()}; told 'couldn't save, try again' {figures['told']} times; saving "
        f"again {max(figures['recoveries']):.1f} s at most after the server was back, "
        "same bot process"
    )
    assert figures["told"] > 0, "the outage went unnoticed: nothing was tried during it"
    assert (result.lost, result.half_written, result.duplicated) == (0, 0, 0), result.figure()
    assert result.leftovers == []


async def test_server_stopped_and_started_while_people_check_in(
    loopback: LoopbackBotAPI, tmp_path: Path, cluster: PgCluster, url: str
) -> None:
    await _outage_suite(loopback, tmp_path, cluster, url, rounds=1)


@pytest.mark.slow
async def test_server_stopped_and_started_five_times(
    loopback: LoopbackBotAPI, tmp_path: Path, cluster: PgCluster, url: str
) -> None:
    await _outage_suite(loopback, tmp_path, cluster, url, rounds=5)


# ---------------------------------------------------------------------- kill -9


async def test_kill9_in_the_middle_of_a_transaction_writes_nothing(
    loopback: LoopbackBotAPI, tmp_path: Path, url: str
) -> None:
    """The save is held inside its transaction (the test locks the person's row, so the
    episode's insert waits for it), the bot is killed there: nothing of that unit is stored,
    the draft is intact, the lock is gone, and the restarted bot saves it once."""
    user = loopback.user(8_201)
    log_path = tmp_path / "bot.log"
    proc = start_bot(loopback, tmp_path / "data", log_path, COACH_DATABASE_URL=url)
    try:
        await until_polling(loopback, proc)
        await onboard_robust(user)
        await checkin_until_note(user)
        with psycopg.connect(url) as holder:
            holder.execute("SELECT 1 FROM people WHERE user_id = %s FOR UPDATE", (user.user_id,))
            await user.send("killed mid-save")
            await wait_until_blocked(url)
            kill(proc)
            holder.rollback()  # the blocked unit may go on now: its client is dead
        await wait_until_gone(url)
    finally:
        kill(proc)
    with PostgresStore(url) as store:
        assert store.all_sync(user.user_id, "episodes") == []
        assert store.get_state_sync(user.user_id, "checkin") is not None  # the draft is kept
    assert audit(url, {}).leftovers == []

    proc = start_bot(loopback, tmp_path / "data", log_path, COACH_DATABASE_URL=url)
    try:
        await until_polling(loopback, proc)
        user.mark_seen()
        await user.send("killed mid-save")  # the bot still waits for the note: type it again
        await wait_for(user, lambda m: "Saved" in m.text and "killed mid-save" in m.text, 15)
    finally:
        kill(proc)
    result = audit(url, {user.user_id: ["killed mid-save"]})
    assert (result.lost, result.duplicated, result.half_written) == (0, 0, 0), result.figure()
    CAPTURE.subprocess_logs.append(log_path.read_text(errors="replace"))
    FIGURES["kill -9 of the bot held inside a PostgreSQL transaction"] = (
        "nothing of the unit stored, draft intact, no lock left; saved once after restart"
    )


async def wait_until(url: str, query: str, done: Any, timeout: float = 30) -> None:
    """Poll the server (from a connection of our own) until `done(first column)` holds."""
    async with asyncio.timeout(timeout):
        while True:
            with psycopg.connect(url, autocommit=True) as conn:
                row = conn.execute(query).fetchone()  # type: ignore[arg-type]  # our literal
            if row is not None and done(row[0]):
                return
            await asyncio.sleep(0.05)


async def wait_until_blocked(url: str) -> None:
    """Until a bot connection waits on a lock inside an open transaction."""
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'twitch-coach' "
        "AND wait_event_type = 'Lock' AND xact_start IS NOT NULL"
    )
    await wait_until(url, query, lambda n: n > 0, timeout=15)


async def wait_until_gone(url: str) -> None:
    """Until the server has ended every session of the killed bot."""
    query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'twitch-coach'"
    await wait_until(url, query, lambda n: n == 0)


async def _kill_suite(tmp_path: Path, url: str, trials: int) -> None:
    """The kill -9 suite of test_kill9.py, on PostgreSQL; after each trial (once the server has
    ended the killed bot's sessions) everything is audited from outside."""
    result = Audit()

    async def check(tally: Tally) -> None:
        nonlocal result
        await wait_until_gone(url)
        result = audit(url, tally.notes)
        tally.lost = result.lost

    tally = await kill_trials(
        tmp_path, trials, f"pg-kill-{trials}", env={"COACH_DATABASE_URL": url}, check=check
    )
    FIGURES[f"kill -9 at random moments, PostgreSQL ({trials} trials)"] = result.figure()
    assert tally.confirmed >= trials, "the users hardly got to save anything"
    assert (result.lost, result.half_written, result.duplicated) == (0, 0, 0), result.figure()
    assert result.leftovers == []


async def test_kill9_quick_postgres(tmp_path: Path, url: str) -> None:
    await _kill_suite(tmp_path, url, trials=3)


@pytest.mark.slow
async def test_kill9_30_trials_postgres(tmp_path: Path, url: str) -> None:
    await _kill_suite(tmp_path, url, trials=30)


# ---------------------------------------------------------------------- pool exhausted


async def test_pool_exhausted_waits_bounded_then_the_same_clear_message(
    loopback: LoopbackBotAPI, tmp_path: Path, url: str
) -> None:
    """Two connections, both held by units stuck behind another process's lock on their
    people: a third person's change waits ~1 s (COACH_DB_POOL_TIMEOUT), is told "couldn't
    save", and works on the next try; the stuck ones complete once the lock goes."""
    async with pg_bot(loopback, tmp_path, url, pool_timeout=1.0, pool_size=2) as bot:
        stuck = [await onboard(bot, 8_401), await onboard(bot, 8_402)]
        third = await onboard(bot, 8_403)
        with psycopg.connect(url, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(8401), pg_advisory_lock(8402)")
            for n, user in enumerate(stuck):
                user.mark_seen()
                await user.send(f"/tiptime 07:{n}5")
            await wait_until_blocked_on_advisory(url, 2)
            third.mark_seen()
            asked = time.monotonic()
            await third.send("/tiptime 06:45")
            reply = await third.next_message(timeout=10)
            waited = time.monotonic() - asked
            assert SAVE_FAILED in reply.text
            tip_time = "SELECT profile->>'tip_time' FROM people WHERE user_id = 8403"
            assert holder.execute(tip_time).fetchone() == ("08:00",)  # the refused unit: nothing
            holder.execute("SELECT pg_advisory_unlock_all()")
        for n, user in enumerate(stuck):
            await wait_for(user, lambda m, n=n: f"07:{n}5" in m.text, 10)
        await third.send("/tiptime 06:45")
        await wait_for(third, lambda m: "06:45" in m.text, 10)
        assert [bot.stored_profile(u)["tip_time"] for u in (8_401, 8_402, 8_403)] == [
            "07:05",
            "07:15",
            "06:45",
        ]
    assert 0.8 <= waited <= 3.0, waited
    FIGURES["PostgreSQL pool exhausted (2 connections held, COACH_DB_POOL_TIMEOUT=1)"] = (
        f"the third person was told 'couldn't save, try again' after {waited:.2f} s; "
        "the held ones completed after the lock went; the retry saved"
    )


async def wait_until_blocked_on_advisory(url: str, count: int) -> None:
    query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    await wait_until(url, query, lambda n: n >= count, timeout=15)


# ---------------------------------------------------------------------- odd text, both engines

ODD_NOTES = [
    'She said "it\'s nothing" \\ but C:\\temp\\ \\n \\u0000 stays text',
    "a NUL \x00 between, a bell \x07, a tab \t, DEL \x7f",
    "'); DELETE FROM episodes; -- ⚡😖 עברית " + "é" * 420,
]


@pytest.mark.backends("files", "postgres")
async def test_odd_notes_are_stored_and_exported_verbatim(harness: BotHarness) -> None:
    user = await onboard(harness, 8_501)
    await checkin_until_note(user)
    await user.send("x" * 4096)  # 4 kB: too long for a note, and nothing is lost
    assert "the limit is 500" in (await user.next_message()).text
    await user.send(ODD_NOTES[0])
    await wait_for(user, lambda m: "Saved" in m.text)
    for note in ODD_NOTES[1:]:
        await checkin_until_note(user)
        await user.send(note)
        await wait_for(user, lambda m: "Saved" in m.text)
    stored = [e["note"] for e in harness.stored(8_501)["episodes"].values()]
    assert stored == [n.strip() for n in ODD_NOTES]
    user.mark_seen()
    await user.send("/export")
    await user.next_message()
    json_doc, csv_doc = await user.next_message(), await user.next_message()
    assert json_doc.file_bytes is not None and csv_doc.file_bytes is not None
    exported = json.loads(json_doc.file_bytes)
    assert [e["note"] for e in exported["tables"]["episodes"]] == stored
    csv_text = csv_doc.file_bytes.decode("utf-8")
    assert all(note.replace('"', '""') in csv_text for note in stored[:2])
