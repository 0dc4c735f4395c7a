"""Kill -9: the real bot (`python -m bot run`) against the loopback Bot API in this process,
simulated users checking in, SIGKILL at random moments. After every kill: every data file loads
and every check-in the bot confirmed ("Saved" with the user's note) is stored.

Beside it, the same trial with stock TinyDB (`TinyDB(path)`, JSONStorage writing in place): a
writer process saving check-ins, killed at random moments, counting torn files and lost saves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.storage import FileStore
from bot.storage.atomic import temp_path
from tests.data_files import stray_files
from tests.e2e.harness import TOKEN
from tests.faults.conftest import CAPTURE, FIGURES
from tests.faults.flows import FlowStalled, checkin_with_note, onboard_robust

ROOT = Path(__file__).resolve().parents[2]
STOCK_WRITER = Path(__file__).with_name("stock_writer.py")
USERS = 5


@dataclass
class Tally:
    trials: int = 0
    confirmed: int = 0
    corrupt_files: int = 0
    lost: int = 0
    notes: dict[int, list[str]] = field(default_factory=dict)  # confirmed, per user
    missing: set[str] = field(default_factory=set)  # confirmed but not stored
    leftovers: int | None = None  # files a killed bot left half-written (coach only)

    def figure(self) -> str:
        figure = (
            f"{self.trials} trials, {self.confirmed} confirmed saves, "
            f"{self.corrupt_files} corrupt files, {self.lost} lost saves"
        )
        if self.leftovers is not None:
            figure += (
                f", {self.leftovers} temp files left by kills (and one torn write placed per "
                "trial), all removed on the next open"
            )
        return figure


def start_bot(
    server: LoopbackBotAPI, data_dir: Path, log_path: Path, **env_extra: str
) -> subprocess.Popen[bytes]:
    # Flood control off: five robots check in far faster than people, again and again.
    env = server.env_for(data_dir, PYTHONPATH=str(ROOT), COACH_FLOOD_LIMIT="0", **env_extra)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=log
        )


async def until_polling(server: LoopbackBotAPI, proc: subprocess.Popen[bytes]) -> None:
    """Wait until the freshly started bot has asked for updates."""
    before = server.count("getUpdates")
    async with asyncio.timeout(30):
        while server.count("getUpdates") == before:
            assert proc.poll() is None, "the bot exited on its own"
            await asyncio.sleep(0.02)


def kill(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


async def keep_checking_in(user: FakeUser, confirmed: list[str], trial: int) -> None:
    """Check in again and again; a note goes into `confirmed` once the bot said "Saved"."""
    n = 0
    while True:
        note = f"kill{trial}-u{user.user_id}-n{n} my calf jumped at dinner"
        CAPTURE.secrets.add(note)
        n += 1
        try:
            await checkin_with_note(user, note)
        except FlowStalled:
            user.mark_seen()
            continue
        confirmed.append(note)


def leave_torn_write(data_dir: Path, uid: int) -> Path:
    """What a kill in the middle of saving `uid` leaves: half a temp file beside their file.
    Real kills leave one only now and then (the bot mostly waits on the network), so each trial
    adds one: the clean-up on the next open is tested every time."""
    target = data_dir / "users" / f"{uid % 256:02x}" / f"{uid}.json"
    torn = temp_path(target)
    torn.write_text('{"episodes": {"1": {"note": "half a sa', encoding="utf-8")
    return torn


def check_data(data_dir: Path, tally: Tally, uid: int) -> None:
    """Every data file parses; every confirmed note is stored; what the killed bot left
    half-written is gone once the store is opened again (as the next start opens it)."""
    tally.leftovers = (tally.leftovers or 0) + len(stray_files(data_dir))
    torn = leave_torn_write(data_dir, uid)
    for path in data_dir.rglob("*.json"):
        try:
            json.loads(path.read_bytes())
        except ValueError:
            tally.corrupt_files += 1
    with FileStore(data_dir) as store:
        tally.corrupt_files += len(store.verify_all())
        for uid, notes in tally.notes.items():
            stored = {e.get("note") for e in store.all_sync(uid, "episodes")}
            tally.missing.update(note for note in notes if note not in stored)
    tally.lost = len(tally.missing)
    assert stray_files(data_dir) == [] and not torn.exists()


async def kill_trials(
    tmp_path: Path,
    trials: int,
    seed: str,
    *,
    env: dict[str, str] | None = None,
    check: Callable[[Tally], Awaitable[None]] | None = None,
) -> Tally:
    """`env` adds to the bot's environment (e.g. COACH_DATABASE_URL) and `check(tally)` replaces
    the file check after each trial (for PostgreSQL)."""
    rng = random.Random(seed)
    data_dir = tmp_path / "data"
    log_path = tmp_path / "bot.log"
    CAPTURE.data_dirs.append(data_dir)
    tally = Tally()
    try:
        await _trials(trials, rng, data_dir, log_path, tally, env or {}, check)
    finally:  # the privacy check reads every bot process's stderr, a failed trial's too
        if log_path.exists():
            CAPTURE.subprocess_logs.append(log_path.read_text(errors="replace"))
    return tally


async def _trials(
    trials: int,
    rng: random.Random,
    data_dir: Path,
    log_path: Path,
    tally: Tally,
    env: dict[str, str],
    check: Callable[[Tally], Awaitable[None]] | None,
) -> None:
    async with LoopbackBotAPI(TOKEN, record_calls=False) as server:
        users = [server.user(7_000 + n) for n in range(USERS)]
        proc = start_bot(server, data_dir, log_path, **env)
        try:
            await until_polling(server, proc)
            await asyncio.gather(*(onboard_robust(u) for u in users))
        finally:
            kill(proc)
        for trial in range(trials):
            proc = start_bot(server, data_dir, log_path, **env)
            confirmed: dict[int, list[str]] = {u.user_id: [] for u in users}
            tasks: list[asyncio.Task[None]] = []
            try:
                await until_polling(server, proc)
                # Let the new bot take what the killed one left in the queue first.
                if server.pending_updates:
                    with contextlib.suppress(TimeoutError):
                        await server.wait_until_delivered(timeout=3)
                    await asyncio.sleep(0.3)  # and answer them
                for u in users:
                    u.mark_seen()
                    tasks.append(
                        asyncio.create_task(keep_checking_in(u, confirmed[u.user_id], trial))
                    )
                await asyncio.sleep(rng.uniform(0.8, 4.0))
            finally:
                kill(proc)
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for uid, notes in confirmed.items():
                tally.notes.setdefault(uid, []).extend(notes)
                tally.confirmed += len(notes)
            tally.trials += 1
            if check is None:
                check_data(data_dir, tally, users[trial % USERS].user_id)
            else:
                await check(tally)


def stock_trials(tmp_path: Path, trials: int, seed: str) -> Tally:
    """The same kills against a stock TinyDB writer (one JSON file rewritten in place)."""
    rng = random.Random(seed)
    path = tmp_path / "stock.json"
    tally = Tally()
    acked: list[int] = []
    n = 0
    for _ in range(trials):
        proc = subprocess.Popen(
            [sys.executable, str(STOCK_WRITER), str(path), str(n)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 0.6))
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=10)
        new = [int(line.split()[1]) for line in out.splitlines() if line.startswith("ack ")]
        acked += new
        tally.confirmed += len(new)
        tally.trials += 1
        n = max([n, *new]) + 1
        try:
            data = json.loads(path.read_bytes())
            stored = {doc["n"] for doc in data.get("episodes", {}).values()}
        except ValueError:
            # Torn file: TinyDB cannot open it any more; everything in it is gone.
            tally.corrupt_files += 1
            stored = set()
            path.unlink()
        tally.lost += sum(1 for a in acked if a not in stored)
        acked = [a for a in acked if a in stored]  # count each loss once
    return tally


async def _kill_suite(tmp_path: Path, trials: int) -> None:
    coach = await kill_trials(tmp_path, trials, seed=f"kill-{trials}")
    stock = stock_trials(tmp_path, trials, seed=f"stock-{trials}")
    FIGURES[f"kill -9, coach ({trials} trials)"] = coach.figure()
    FIGURES[f"kill -9, stock TinyDB JSONStorage ({trials} trials)"] = stock.figure()
    assert coach.confirmed >= trials, "the users hardly got to save anything"
    assert (coach.corrupt_files, coach.lost) == (0, 0), coach.figure()
    assert stock.confirmed > 0


async def test_kill9_quick(tmp_path: Path) -> None:
    await _kill_suite(tmp_path, trials=3)


@pytest.mark.slow
async def test_kill9_50_trials(tmp_path: Path) -> None:
    await _kill_suite(tmp_path, trials=50)
