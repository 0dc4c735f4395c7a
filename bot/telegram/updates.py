"""Process different people's updates concurrently, each person's strictly in order, and cut off
a flood from one person before it costs anyone else.

Three rules, in the order an update meets them:

1. Flood control (a throttling middleware, as bot frameworks call it): a person gets `limit`
   updates per `window` seconds (20 per 10 s in production). Beyond that their updates are not
   processed at all; the first one dropped queues one short "slow down a little" note behind
   what they sent before, so everything accepted is still answered, in order, and the note
   comes last. A person is noted again only after a full window without a dropped update.
2. The person's own lock: their updates wait for each other, never for anyone else's.
3. Only then a concurrency slot (`max_concurrent_updates`): waiting for one's own earlier
   updates holds no slot, so one person's queue cannot fill the slots everyone shares.

PTB takes its own semaphore *before* `do_process_update`, which is what let one person's waiting
updates fill every slot; it is therefore made unbounded here and the slots are taken in step 3.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot.locks import KeyedLocks

log = logging.getLogger(__name__)

# PTB's own semaphore would be taken before the person's lock (see the module docstring), so it
# is given this (and reports it as `max_concurrent_updates`); the real bound is our own slots.
_UNBOUNDED = 1 << 30


class Admission(enum.Enum):
    ADMIT = "process it"
    NOTE = "drop it and tell them once"
    DROP = "drop it quietly"


class FloodControl:
    """At most `limit` admitted updates per person in any `window` seconds (a sliding window).

    Memory: one small deque per person seen in the last window; the rest is pruned as it goes.
    """

    def __init__(
        self, limit: int = 20, window: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("flood control needs a limit >= 1 and a window > 0")
        self.limit = limit
        self.window = window
        self._clock = clock
        self._admitted: dict[Hashable, deque[float]] = {}
        self._last_drop: dict[Hashable, float] = {}
        self._next_prune = 0.0

    def admit(self, key: Hashable) -> Admission:
        now = self._clock()
        self._prune(now)
        recent = self._admitted.setdefault(key, deque())
        while recent and now - recent[0] >= self.window:
            recent.popleft()
        if len(recent) < self.limit:
            recent.append(now)
            return Admission.ADMIT
        last_drop = self._last_drop.get(key)
        self._last_drop[key] = now
        if last_drop is None or now - last_drop >= self.window:
            return Admission.NOTE
        return Admission.DROP

    def _prune(self, now: float) -> None:
        """Forget people quiet for a whole window (at most once per window: O(1) amortised)."""
        if now < self._next_prune:
            return
        self._next_prune = now + self.window
        self._admitted = {
            k: q for k, q in self._admitted.items() if q and now - q[-1] < self.window
        }
        self._last_drop = {k: t for k, t in self._last_drop.items() if now - t < self.window}


def person_of(update: object) -> Hashable | None:
    """Whose update this is: the user, else the chat; None when it names neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return ("chat", update.effective_chat.id)
    return None


FloodNote = Callable[[Update], Awaitable[None]]


class PerUserUpdateProcessor(BaseUpdateProcessor):
    """PTB's default runs one update at a time for everyone; `concurrent_updates=True` would let
    two quick taps of one person race through a flow. Here one person's updates run in the order
    they were sent, and neither a slow person nor a flooding one holds up anyone else."""

    def __init__(
        self,
        max_concurrent_updates: int = 16,
        *,
        flood: FloodControl | None = None,
        on_flood: FloodNote | None = None,
    ) -> None:
        # PTB sizes its own semaphore from what we pass here and takes it before
        # do_process_update: unbounded, so that only our slots below bound the work.
        super().__init__(_UNBOUNDED)
        if max_concurrent_updates < 1:
            raise ValueError("max_concurrent_updates must be a positive integer")
        self._slots = asyncio.BoundedSemaphore(max_concurrent_updates)
        self._busy = 0
        self._locks = KeyedLocks()
        self.flood = flood
        self.on_flood = on_flood

    @property
    def current_concurrent_updates(self) -> int:
        """Updates running now (those waiting for their person's earlier ones not counted)."""
        return self._busy

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = person_of(update)
        if person is None:  # nothing to keep in order with
            await self._run(coroutine)
            return
        verdict = Admission.ADMIT if self.flood is None else self.flood.admit(person)
        if verdict is not Admission.ADMIT:
            _close(coroutine)
            if verdict is Admission.DROP or self.on_flood is None:
                return
            # No id or content: that someone is being throttled is all an operator needs.
            log.info("flood control: a person is over the limit; skipping their next updates")
            assert isinstance(update, Update)
            coroutine = self._note(update)
        async with self._locks.hold(person):
            await self._run(coroutine)

    async def _run(self, coroutine: Awaitable[Any]) -> None:
        async with self._slots:
            self._busy += 1
            try:
                await coroutine
            finally:
                self._busy -= 1

    async def _note(self, update: Update) -> None:
        assert self.on_flood is not None
        try:
            await self.on_flood(update)
        except Exception as exc:  # the note is a courtesy: never let it fail anything else
            log.warning("could not send the slow-down note: %s", type(exc).__name__)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to tear down."""


def _close(coroutine: Awaitable[Any]) -> None:
    """Discard an update's processing coroutine that will never run (no 'never awaited')."""
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()
