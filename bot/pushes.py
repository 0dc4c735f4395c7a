"""One scheduler for every daily push: a message at a person's local wall-clock time, at most
once per local date (or per ISO week), with quiet hours, catch-up after downtime and DST handled
once, here and in `bot.domain.pushtime`. The morning tip, the Sunday summary, the evening checks
(GP note, red-flag re-check) and the evening diary are push *kinds* that plug into it. It
imports no Telegram code: a feature gives it a kind, the composition root gives it a send.
(Over 500 lines because this docstring is the contract push kinds are written against.)

The contract of a push kind (`PushKind`, registered with `PushScheduler.register` from the
feature's `register(app)`, before start-up):

* ``name``: unique, short ("tip", "weekly", "evening_checks", "diary"); appears in logs.
* ``marker``: the profile field that holds the period last claimed ("last_tip_date"). The
  scheduler writes it; the kind only reads it if it wants to. Not an index field.
* ``fields``: the profile fields ``local_time`` and ``paused_until`` read. Each must be listed in
  `bot.storage.INDEX_FIELDS` (`register` refuses the kind otherwise), because the schedule is
  rebuilt at start from the store's index alone and follows changes to those fields.
* ``local_time(entry) -> time | None``: the person's local time for this push, from an index
  entry or a profile (a mapping holding at least ``fields``); None = not scheduled (switched
  off, not chosen yet). Must not raise; `hhmm` parses a stored "HH:MM" safely. The scheduler has
  already checked that the person accepted the note, is active (did not block the bot) and has
  a valid zone (``tz``).
* ``weekday``: None for a daily push; an ISO weekday (7 = Sunday) for a weekly one, which then
  goes out at most once per ISO week (its marker holds "2026-W48").
* ``catch_up``: how late after downtime (or an error) it may still go out, within the same
  local date (default 3 h; the Sunday summary's 3 h from 18:00 ends at 21:00).
* ``paused_until(entry) -> datetime | None`` (optional): slots before that instant are skipped.
* ``prepare(data, now, local_date) -> payload | None``: runs inside the claim's unit of work
  (`Store.transact`, a worker thread, under the person's lock), only when this period's push is
  due and not yet claimed. ``local_date`` is the person's date the push is for. It reads and may
  write that person's data (tip history, "offered at" fields); return None when there is
  nothing to send this period (nothing is claimed; the next look is the next period).
* ``render(uid, payload) -> [Outgoing, ...]``: the push's messages, in order (a photo and its
  text are one push of two messages). It runs in the same unit of work, after ``prepare`` and
  before the marker is written: if ``prepare`` or ``render`` raises, nothing at all is written,
  the error is logged (type and code location, never content) and the person is looked at
  again after RETRY_AFTER_ERROR while the catch-up window lasts.
* ``opt_in(at) -> dict`` (optional): profile fields that switch this push on at local time
  ``at`` (or at its fixed time), so benchmarks and tests can schedule every registered kind.

Guarantees: the marker is written in the same atomic write as ``prepare``'s changes, before
anything is sent, so a crash, a timeout or a restart can lose a push but never send one twice.
The messages of one push go out in order; the first undelivered one ends that push (a person
who blocked the bot is marked inactive by the send, which unschedules them).

How it runs: `DueIndex` (one per kind) keeps, per person, the next instant to look, bucketed by
instant; it is rebuilt at start from `Store.index_entries()` and follows every index change
through `Store.index_listeners`, applied as of the moment the change was made (a time set at
07:59:30 for 08:00 still counts today; a push already due then stays due, and its claim reads
the new profile, so an unrelated change never costs a push). One loop ticks on the boundaries
of `tick_seconds` (whole minutes by default, by the injected clock, so an 08:00 push leaves at
08:00:00; the first one at the first boundary after start, so a catch-up never delays serving)
and pops whoever is due into a queue, the kinds taking turns; `concurrency` worker
tasks claim and send, so one person's slow retries hold one worker, never the tick or everyone
else. The profile is the source of truth: the claim re-reads it, so a stale index entry costs
an extra look, never a wrong push.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Generic, Protocol, TypeVar

from bot.clock import Clock
from bot.domain import pushtime
from bot.domain.pushtime import CATCH_UP, Rule, Verdict
from bot.domain.zones import is_valid_zone
from bot.logs import where
from bot.storage import INDEX_FIELDS, Store, UserData

log = logging.getLogger(__name__)

P = TypeVar("P")
RETRY_AFTER_ERROR = timedelta(minutes=5)
CONCURRENCY = 4  # sends in flight: keeps the 30 msg/s limiter busy, a reply waits behind few
_POLL_SECONDS = 1.0  # the tick loop re-reads the clock at least this often (clock jumps)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message of a push, as the send callable gets it."""

    text: str  # the message, or a photo's caption
    markup: Any = None  # reply markup, opaque here (the Telegram layer builds it)
    photo: bytes | None = None


# (person, message) -> whether it was delivered. Must not raise for a person who blocked the bot.
Send = Callable[[int, Outgoing], Awaitable[bool]]


@dataclass(frozen=True)
class PushKind(Generic[P]):
    """A daily (or weekly) push a feature plugs in; see the module docstring for the contract."""

    name: str
    marker: str
    fields: tuple[str, ...]
    local_time: Callable[[Mapping[str, Any]], time | None]
    prepare: Callable[[UserData, datetime, date], P | None]
    render: Callable[[int, P], Sequence[Outgoing]]
    weekday: int | None = None
    catch_up: timedelta = CATCH_UP
    paused_until: Callable[[Mapping[str, Any]], datetime | None] | None = None
    opt_in: Callable[[time], dict[str, Any]] | None = None


def hhmm(value: Any) -> time | None:
    """A stored "HH:MM" as a time; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        return pushtime.parse_hhmm(value)
    except ValueError:
        return None


def instant(value: Any) -> datetime | None:
    """A stored ISO-8601 instant (naive = UTC); None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---------------------------------------------------------------------------- one person's slot


@dataclass(frozen=True, slots=True)
class Slot:
    """When one kind's push is due for one person."""

    tz: str
    rule: Rule
    paused_until: datetime | None = None

    def next_check(
        self, now: datetime, last_key: object = None, catch_up: timedelta = timedelta(0)
    ) -> datetime:
        return pushtime.next_check(
            now,
            self.tz,
            self.rule,
            last_key=last_key,
            paused_until=self.paused_until,
            catch_up=catch_up,
        )


def zone_of(entry: Mapping[str, Any] | None) -> str | None:
    """The zone pushes are timed in; None when no push may go out (not accepted, blocked)."""
    if not entry or not entry.get("accepted") or entry.get("active") is False:
        return None
    tz = entry.get("tz")
    return tz if isinstance(tz, str) and is_valid_zone(tz) else None


def slot_of(kind: PushKind[Any], entry: Mapping[str, Any] | None) -> Slot | None:
    tz = zone_of(entry)
    if tz is None or entry is None:
        return None
    at = kind.local_time(entry)
    if at is None:
        return None
    paused = kind.paused_until(entry) if kind.paused_until else None
    return Slot(tz, Rule(at, kind.weekday, kind.catch_up), paused)


# ---------------------------------------------------------------------------- the claim


@dataclass(frozen=True)
class Claim:
    next_at: datetime | None  # when to look at this person again (None: not scheduled)
    messages: tuple[Outgoing, ...] = ()  # to send now; the period is already claimed


def claim(kind: PushKind[Any], uid: int, data: UserData, now: datetime) -> Claim:
    """Inside one unit of work: decide, prepare, render and claim this person's push."""
    profile = data.profile()
    slot = slot_of(kind, profile)
    if profile is None or slot is None:
        return Claim(None)
    last = profile.get(kind.marker)
    decision = pushtime.verdict(now, slot.tz, slot.rule, last, slot.paused_until)
    if decision.verdict in (Verdict.NOT_YET, Verdict.PAUSED):
        return Claim(slot.next_check(now, last))
    next_at = slot.next_check(now, decision.key)  # this period is settled either way
    if decision.verdict is not Verdict.SEND:  # already sent, too late or quiet hours
        return Claim(next_at)
    payload = kind.prepare(data, now, decision.day)
    if payload is None:
        return Claim(next_at)
    messages = tuple(kind.render(uid, payload))
    if not messages:
        return Claim(next_at)
    data.update_profile({kind.marker: decision.key})
    return Claim(next_at, messages)


# ---------------------------------------------------------------------------- the index


class DueIndex:
    """uid -> next instant to look (epoch seconds), bucketed by instant: most people share a
    few hundred (zone, time) instants, so a bucket set per instant is lean at 100,000 people."""

    def __init__(self) -> None:
        self._next: dict[int, float] = {}
        self._buckets: dict[float, set[int]] = {}
        self._heap: list[float] = []  # bucket instants; may hold instants of emptied buckets

    def __len__(self) -> int:
        return len(self._next)

    def next_of(self, uid: int) -> float | None:
        return self._next.get(uid)

    def set(self, uid: int, at: datetime | None) -> None:
        """Schedule (or with None, unschedule) one person's next look."""
        ts = None if at is None else at.timestamp()
        old = self._next.get(uid)
        if old == ts:
            return
        if old is not None:
            bucket = self._buckets[old]
            bucket.discard(uid)
            if not bucket:
                del self._buckets[old]
        if ts is None:
            self._next.pop(uid, None)
            return
        self._next[uid] = ts
        bucket = self._buckets.get(ts)
        if bucket is None:
            bucket = self._buckets[ts] = set()
            heapq.heappush(self._heap, ts)
            if len(self._heap) > 2 * len(self._buckets) + 1024:
                self._heap = list(self._buckets)
                heapq.heapify(self._heap)
        bucket.add(uid)

    def pop_due(self, now: datetime) -> list[int]:
        """Everyone whose instant has come, earliest first; they leave until rescheduled."""
        limit = now.timestamp()
        due: list[int] = []
        while self._heap and self._heap[0] <= limit:
            bucket = self._buckets.pop(heapq.heappop(self._heap), None)
            if bucket:
                for uid in bucket:
                    del self._next[uid]
                due.extend(bucket)
        return due

    def load(self, nexts: dict[int, float]) -> None:
        """Replace everything (the start-up rebuild)."""
        buckets: dict[float, set[int]] = {}
        for uid, ts in nexts.items():
            bucket = buckets.get(ts)
            if bucket is None:
                bucket = buckets[ts] = set()
            bucket.add(uid)
        self._next, self._buckets = nexts, buckets
        self._heap = list(buckets)
        heapq.heapify(self._heap)


# ---------------------------------------------------------------------------- the scheduler


class Host(Protocol):
    """What the scheduler needs of the running application (PTB's Application has it):
    whether it runs, and tasks that its stop waits for (a push being sent is finished)."""

    @property
    def running(self) -> bool: ...

    def create_task(self, coroutine: Any, *, name: str | None = None) -> Any: ...


class PushScheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        send: Send,
        *,
        tick_seconds: float = 60.0,
        concurrency: int = CONCURRENCY,
    ) -> None:
        self.store = store
        self.clock = clock
        self.send = send
        self.tick_seconds = tick_seconds
        self.concurrency = concurrency
        self.kinds: dict[str, PushKind[Any]] = {}
        self._index: dict[str, DueIndex] = {}
        self._changes: deque[tuple[int, dict[str, Any] | None, datetime]] = deque()
        self._generation: dict[int, int] = {}  # bumped per applied change; guards races
        self._queue: deque[tuple[str, int]] = deque()
        self._queued: set[tuple[str, int]] = set()
        self._workers = 0
        self._busy = 0  # pushes being claimed or sent
        self._host: Host | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._poked = False
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        # Figures for logs, tests and the benchmark.
        self.ticks = 0
        self.delivered: Counter[str] = Counter()  # pushes whose every message was delivered
        self.undelivered: Counter[str] = Counter()  # claimed, not (fully) delivered
        # Set to a list to record (kind, uid, messages, delivered messages) per claimed push.
        self.journal: list[tuple[str, int, int, int]] | None = None

    # ------------------------------------------------------------------ kinds

    def register(self, kind: PushKind[Any]) -> None:
        if kind.name in self.kinds:
            raise ValueError(f"push kind {kind.name!r} is registered twice")
        missing = [f for f in kind.fields if f not in INDEX_FIELDS]
        if missing:
            raise ValueError(
                f"push kind {kind.name!r} reads {missing}: add them to INDEX_FIELDS "
                "(bot/storage/store.py) so the schedule can be rebuilt from the index"
            )
        if kind.marker in INDEX_FIELDS:
            raise ValueError(f"push kind {kind.name!r}: its marker must not be an index field")
        self.kinds[kind.name] = kind
        self._index[kind.name] = DueIndex()

    def next_at(self, kind: str, uid: int) -> datetime | None:
        """When this person is next looked at for this kind (None: not scheduled)."""
        ts = self._index[kind].next_of(uid)
        return None if ts is None else datetime.fromtimestamp(ts, UTC)

    def scheduled(self, kind: str) -> int:
        return len(self._index[kind])

    # ------------------------------------------------------------------ life cycle

    async def start(self, host: Host) -> None:
        """Start-up hook: rebuild from the store's index, then tick until `stop`."""
        self._host = host
        self.store.index_listeners.append(self.on_index_change)  # first: no change is missed
        entries = await asyncio.to_thread(lambda: list(self.store.index_entries()))
        self.rebuild(entries, self.clock.now())
        counts = ", ".join(f"{name} {len(index)}" for name, index in self._index.items())
        log.info("push schedule rebuilt for %d users (%s)", len(entries), counts)
        self._task = asyncio.create_task(self._run(), name="push-ticks")

    async def stop(self, _host: Any = None) -> None:
        """Shutdown hook (after the application stopped, so pushes in flight are finished)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(ValueError):
            self.store.index_listeners.remove(self.on_index_change)

    def rebuild(self, entries: Iterable[tuple[int, dict[str, Any]]], now: datetime) -> None:
        """Everyone's next look per kind. A push missed within its catch-up window is due now
        (the claim then checks the stored marker, so one sent before a restart is not resent).
        People sharing a zone and a time share the arithmetic."""
        kinds = [(kind, {}) for kind in self.kinds.values()]  # (kind, uid -> next instant)
        cache: dict[tuple[str, str, time], float] = {}
        for uid, entry in entries:
            tz = zone_of(entry)
            if tz is None:
                continue
            for kind, nexts in kinds:
                at = kind.local_time(entry)
                if at is None:
                    continue
                paused = kind.paused_until(entry) if kind.paused_until else None
                key = (kind.name, tz, at)
                ts = None if paused else cache.get(key)
                if ts is None:
                    slot = Slot(tz, Rule(at, kind.weekday, kind.catch_up), paused)
                    ts = slot.next_check(now, catch_up=kind.catch_up).timestamp()
                    if not paused:
                        cache[key] = ts
                nexts[uid] = ts
        for kind, nexts in kinds:
            self._index[kind.name].load(nexts)

    def on_index_change(self, uid: int, entry: dict[str, Any] | None) -> None:
        """Store listener (any thread): remember the change and when it was made."""
        self._changes.append((uid, entry, self.clock.now()))

    # ------------------------------------------------------------------ ticks

    async def _run(self) -> None:
        # Start-up hooks run before the application starts. The first tick comes at the first
        # boundary after it started: pushes caught up after downtime are late anyway, and until
        # then the bot's two cores go to serving the people who are tapping (measured in
        # bench/startup_bench.py: a catch-up sent at once delayed serving by ~1.5 s).
        while not self._stopping and not (self._host is not None and self._host.running):
            await asyncio.sleep(0.01)
        last_tick = self.clock.now().timestamp()
        next_tick = self._boundary_after(last_tick)
        while not self._stopping:
            self._wake.clear()
            now = self.clock.now()
            ts = now.timestamp()
            if self._poked or ts >= next_tick or ts < last_tick:  # the last: the clock went back
                self._poked = False
                try:
                    self.tick(now)
                except Exception as exc:  # a bug here must not stop every push for good
                    log.error("push tick failed: %s at %s", type(exc).__name__, where(exc))
                last_tick = ts
                next_tick = self._boundary_after(ts)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(_POLL_SECONDS, max(next_tick - ts, 0.0))):
                    await self._wake.wait()

    def _boundary_after(self, ts: float) -> float:
        return (math.floor(ts / self.tick_seconds) + 1) * self.tick_seconds

    def tick(self, now: datetime | None = None) -> int:
        """Apply index changes, queue whoever is due, make sure workers run. Returns #queued."""
        now = now or self.clock.now()
        while self._changes:
            uid, entry, made_at = self._changes.popleft()
            self._generation[uid] = self._generation.get(uid, 0) + 1
            for name, kind in self.kinds.items():
                index, slot = self._index[name], slot_of(kind, entry)
                due = index.next_of(uid)
                if slot is not None and due is not None and due <= made_at.timestamp():
                    continue  # already due when it changed: the claim reads the new profile
                index.set(uid, None if slot is None else slot.next_check(made_at))
        queued = 0
        due = [[(name, uid) for uid in index.pop_due(now)] for name, index in self._index.items()]
        # Kinds take turns: 30,000 evening checks at 18:00 do not put 18:00 tips behind them.
        for item in itertools.chain.from_iterable(itertools.zip_longest(*due)):
            if item is not None and item not in self._queued:
                self._queued.add(item)
                self._queue.append(item)
                queued += 1
        host = self._host
        while self._queue and self._workers < self.concurrency and host and host.running:
            self._workers += 1
            host.create_task(self._work(), name="push-worker")
        self.ticks += 1
        self._progress.set()
        return queued

    async def settled(self, timeout: float = 30.0) -> None:
        """For tests and benchmarks: wait for a tick that starts after this call and for every
        push it queued to be claimed and sent (or given up)."""
        target = self.ticks + 1
        self._poked = True
        self._wake.set()
        async with asyncio.timeout(timeout):
            while self.ticks < target or self._queue or self._busy:
                self._progress.clear()
                await self._progress.wait()

    # ------------------------------------------------------------------ workers

    async def _work(self) -> None:
        try:
            while self._queue and self._host is not None and self._host.running:
                name, uid = self._queue.popleft()
                self._queued.discard((name, uid))
                self._busy += 1
                try:
                    await self.process(name, uid)
                except Exception as exc:  # never let one person stop the worker
                    log.error("push %s failed: %s at %s", name, type(exc).__name__, where(exc))
                finally:
                    self._busy -= 1
                    self._progress.set()
        finally:
            self._workers -= 1
            self._progress.set()

    async def process(self, name: str, uid: int) -> bool:
        """Claim and send one person's push of this kind if due; True if it was delivered."""
        kind = self.kinds[name]
        generation = self._generation.get(uid, 0)
        now = self.clock.now()
        try:
            result = await self.store.transact(uid, lambda data: claim(kind, uid, data, now))
        except Exception as exc:  # storage trouble or a bad prepare/render: nothing was written
            log.error("push %s not claimed: %s at %s", name, type(exc).__name__, where(exc))
            self._reschedule(name, uid, generation, now + RETRY_AFTER_ERROR)
            return False
        self._reschedule(name, uid, generation, result.next_at)
        if not result.messages:
            return False
        sent = 0
        for message in result.messages:
            try:
                delivered = await self.send(uid, message)
            except Exception as exc:  # e.g. our markup refused: claimed, so not retried
                log.error("push %s not sent: %s at %s", name, type(exc).__name__, where(exc))
                delivered = False
            if not delivered:
                break
            sent += 1
        complete = sent == len(result.messages)
        (self.delivered if complete else self.undelivered)[name] += 1
        if self.journal is not None:
            self.journal.append((name, uid, len(result.messages), sent))
        return complete

    def _reschedule(self, name: str, uid: int, generation: int, at: datetime | None) -> None:
        # A change applied while we were claiming may have set a fresher schedule; keep it,
        # unless it was popped again meanwhile (then the claim's view is the fresh one).
        index = self._index[name]
        if self._generation.get(uid, 0) == generation or index.next_of(uid) is None:
            index.set(uid, at)
