"""The update processor: one person's burst never holds up another, each person's updates run in
order, and a flood is cut off with one short note while what came before it is still served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any

from telegram import Chat, Message, Update, User

from bot.telegram.updates import FloodControl, PerUserUpdateProcessor

A, B = 501, 502
SLOTS = 16  # what production uses (bot.app.CONCURRENT_UPDATES)


def update_from(uid: int | None, n: int = 1) -> Update:
    """A private message from `uid`; None: an update that names no user (a poll, say)."""
    if uid is None:
        return Update(update_id=n)
    user = User(id=uid, first_name="Sam", is_bot=False)
    chat = Chat(id=uid, type="private")
    return Update(n, message=Message(n, datetime.now(UTC), chat, from_user=user, text="hi"))


async def io(seconds: float = 0.1, log: list[Any] | None = None, mark: Any = None) -> None:
    """A handler that spends its time waiting on I/O (a Bot API call, a disk write)."""
    await asyncio.sleep(seconds)
    if log is not None:
        log.append(mark)


async def timed(work: Awaitable[None]) -> float:
    started = time.perf_counter()
    await work
    return time.perf_counter() - started


async def test_one_persons_quick_taps_do_not_slow_anyone_else() -> None:
    """Seen before the fix: 20 taps of 0.1 s each from one person filled every concurrency slot
    while they waited on their own lock, and another person's update took 0.6 s, not 0.1 s."""
    processor = PerUserUpdateProcessor(SLOTS)
    idle = await timed(processor.process_update(update_from(B), io()))
    taps = [
        asyncio.create_task(processor.process_update(update_from(A, n), io()))
        for n in range(20)
    ]
    await asyncio.sleep(0)  # every tap has been taken up and is queued
    busy = await timed(processor.process_update(update_from(B, 99), io()))
    await asyncio.gather(*taps)
    assert busy < 3 * idle, f"{busy:.3f} s while another person tapped, {idle:.3f} s idle"


async def test_updates_without_a_user_do_not_queue_behind_each_other() -> None:
    processor = PerUserUpdateProcessor(SLOTS)
    single = await timed(processor.process_update(update_from(None, 1), io()))
    together = await timed(
        asyncio.gather(*(processor.process_update(update_from(None, n), io()) for n in range(5)))
    )
    assert together < 3 * single, f"5 took {together:.3f} s, one {single:.3f} s"


async def test_each_persons_updates_run_in_the_order_they_came() -> None:
    processor = PerUserUpdateProcessor(SLOTS)
    log: list[int] = []
    # Later updates finish their I/O sooner: only the per-person order keeps them in line.
    await asyncio.gather(
        *(
            processor.process_update(update_from(A, n), io(0.05 - n * 0.01, log, n))
            for n in range(5)
        )
    )
    assert log == [0, 1, 2, 3, 4]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_flood_is_cut_off_with_one_note_and_nothing_before_it_is_lost() -> None:
    clock = FakeClock()
    log: list[Any] = []

    async def note(update: Update) -> None:
        assert update.effective_user is not None
        log.append(("note", update.effective_user.id))

    flood = FloodControl(limit=5, window=10.0, clock=clock)
    processor = PerUserUpdateProcessor(SLOTS, flood=flood, on_flood=note)
    dropped = [io(0.0, log, ("late", n)) for n in range(5, 12)]
    await asyncio.gather(
        *(processor.process_update(update_from(A, n), io(0.01, log, n)) for n in range(5)),
        *(processor.process_update(update_from(A, n), c) for n, c in enumerate(dropped, 5)),
        processor.process_update(update_from(B, 50), io(0.0, log, "other person")),
    )
    mine = [x for x in log if x != "other person"]
    assert mine == [0, 1, 2, 3, 4, ("note", A)]  # in order, then the one note, nothing more
    assert "other person" in log  # someone else is not throttled by it
    assert all(c.cr_frame is None for c in dropped)  # closed, never run (no "never awaited")

    # Still inside the window: dropped quietly, no second note.
    log.clear()
    clock.now += 5
    await processor.process_update(update_from(A, 20), io(0.0, log, 20))
    assert log == []
    # A full window later they are heard again, and a new flood gets a new note.
    clock.now += 10.1
    await asyncio.gather(
        *(processor.process_update(update_from(A, n), io(0.0, log, n)) for n in range(30, 37))
    )
    assert log == [30, 31, 32, 33, 34, ("note", A)]


async def test_the_flood_limit_counts_a_sliding_window() -> None:
    clock = FakeClock()
    flood = FloodControl(limit=3, window=10.0, clock=clock)
    verdicts = []
    for step in (0, 1, 1, 1, 6, 1):  # seconds between updates
        clock.now += step
        verdicts.append(flood.admit(A))
    # 3 admitted at t=0,1,2; t=3 is the 4th within 10 s; at t=9 still 3 in the window; at t=10
    # the first has left it (t=0 is 10 s ago) and one more gets through.
    assert [v.name for v in verdicts] == ["ADMIT", "ADMIT", "ADMIT", "NOTE", "DROP", "ADMIT"]
