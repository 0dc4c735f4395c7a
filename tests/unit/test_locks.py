"""KeyedLocks: one lock per key, in order per key, independent across keys, nothing kept after."""

from __future__ import annotations

import asyncio
import threading
import time

from bot.locks import KeyedLocks


async def test_one_key_runs_in_order_other_keys_do_not_wait() -> None:
    locks = KeyedLocks()
    log: list[str] = []

    async def work(key: int, name: str, seconds: float) -> None:
        async with locks.hold(key):
            await asyncio.sleep(seconds)
            log.append(name)

    # 1024 + 1 would share a lock with 1 in a fixed array of 1024 stripes.
    await asyncio.gather(work(1, "first", 0.05), work(1, "second", 0.0), work(1025, "other", 0.0))
    assert log == ["other", "first", "second"]
    assert len(locks) == 0  # nothing kept once nobody holds or waits


def test_thread_locks_serialise_one_key() -> None:
    locks = KeyedLocks(threading.Lock)
    inside = []
    overlap = []

    def work() -> None:
        with locks.hold_sync(7):
            inside.append(1)
            overlap.append(len(inside))
            time.sleep(0.01)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlap == [1] * 8 and len(locks) == 0
