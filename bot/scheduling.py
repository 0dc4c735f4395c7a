"""The morning-tip scheduler: one repeating job asks "who is due now?" of an in-memory index.

Why not one APScheduler job per user? 100,000 cron jobs cost seconds to add and hundreds of MB,
and each fires its own coroutine at 08:00 sharp. Instead:

* `DueIndex` keeps, per user, the UTC instant of their next check in a dict plus a heap.
  It is rebuilt at start from the store's scheduler index (`Store.index_entries()`, one JSON
  read per shard), and follows every profile change through `Store.index_listeners` (time,
  zone, pause, blocked/unblocked: whichever feature made the change).
* ONE repeating JobQueue job (`Settings.tip_tick_seconds`, default 60 s) pops whoever is due
  into a queue and returns at once. A few worker tasks (`concurrency`, default 4) drain it:
  each claims the user's tip in one atomic store write (`last_tip_date` + tip history, see
  `claim`) and then sends through `deliver`. A handful of sends in flight keeps the global rate
  limiter busy at its 30 msg/s while a user's reply waits behind at most a few tips.
* The profile is the source of truth: the index only says when to look. The claim re-reads the
  profile and decides with `bot.domain.coaching.verdict`, so a stale index entry can cause an
  extra look, never a wrong or second tip.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from bot.domain import coaching
from bot.domain.coaching import CATCH_UP, Tip, TipLibrary, Verdict
from bot.storage import UserData
from bot.telegram.delivery import deliver

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

HISTORY_TABLE = "tips"
HISTORY_KEEP = 200  # enough for the rotation rule (pools are ~12 per topic)
RETRY_AFTER_ERROR = timedelta(minutes=5)


# ---------------------------------------------------------------------------- schedule fields


@dataclass(frozen=True, slots=True)
class Schedule:
    """The scheduler's view of a profile (its index entry)."""

    tz: str
    tip_time: time
    paused_until: datetime | None


def schedule_of(entry: dict[str, Any] | None) -> Schedule | None:
    """None when this user gets no morning tips: not onboarded, blocked, or tips switched off."""
    if not entry or not entry.get("accepted") or entry.get("active") is False:
        return None
    if entry.get("tips_enabled") is False:
        return None
    tz, tip_time = entry.get("tz"), entry.get("tip_time")
    if not isinstance(tz, str) or not isinstance(tip_time, str):
        return None
    try:
        coaching.zone(tz)
        parsed = coaching.parse_hhmm(tip_time)
    except (ValueError, KeyError, LookupError):
        return None
    return Schedule(tz, parsed, _parse_instant(entry.get("tips_paused_until")))


def _parse_instant(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parse_date(value: Any) -> date | None:
    try:
        return date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------- the index


class DueIndex:
    """uid -> next check (epoch seconds), with a lazy-deletion heap to pop whoever is due."""

    def __init__(self) -> None:
        self._next: dict[int, float] = {}
        self._heap: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._next)

    def next_of(self, uid: int) -> float | None:
        return self._next.get(uid)

    def set(self, uid: int, at: datetime | None) -> None:
        """Schedule (or with None, unschedule) one user's next check."""
        if at is None:
            self._next.pop(uid, None)
            return
        ts = at.timestamp()
        if self._next.get(uid) == ts:
            return
        self._next[uid] = ts
        heapq.heappush(self._heap, (ts, uid))
        if len(self._heap) > 2 * len(self._next) + 1024:
            self._compact()

    def pop_due(self, now: datetime) -> list[int]:
        """Users whose check time has come; they leave the index until rescheduled."""
        limit = now.timestamp()
        due = []
        while self._heap and self._heap[0][0] <= limit:
            ts, uid = heapq.heappop(self._heap)
            if self._next.get(uid) == ts:  # else: a stale heap item from an older schedule
                del self._next[uid]
                due.append(uid)
        return due

    def rebuild(
        self, entries: Iterable[tuple[int, dict[str, Any]]], now: datetime, catch_up: timedelta
    ) -> None:
        """Start from the store's index. A tip missed within `catch_up` is due now (the claim
        then checks the stored `last_tip_date`, so a tip sent before the restart is not resent).
        """
        cache: dict[tuple[str, time], datetime] = {}
        nexts: dict[int, float] = {}
        for uid, entry in entries:
            schedule = schedule_of(entry)
            if schedule is None:
                continue
            if schedule.paused_until is None:  # most users: share the zone/time arithmetic
                key = (schedule.tz, schedule.tip_time)
                at = cache.get(key)
                if at is None:
                    at = cache[key] = first_check(schedule, now, catch_up)
            else:
                at = first_check(schedule, now, catch_up)
            nexts[uid] = at.timestamp()
        self._next = nexts
        self._heap = [(ts, uid) for uid, ts in nexts.items()]
        heapq.heapify(self._heap)

    def _compact(self) -> None:
        self._heap = [(ts, uid) for uid, ts in self._next.items()]
        heapq.heapify(self._heap)


def first_check(
    schedule: Schedule,
    now: datetime,
    catch_up: timedelta = timedelta(0),
    last_tip_date: date | None = None,
) -> datetime:
    return coaching.next_check(
        now,
        schedule.tz,
        schedule.tip_time,
        last_tip_date=last_tip_date,
        paused_until=schedule.paused_until,
        catch_up=catch_up,
    )


# ---------------------------------------------------------------------------- picking a tip


def pick_tip(
    data: UserData, now: datetime, library: TipLibrary, rng: random.Random
) -> Tip | None:
    """Choose the user's next tip from their stored history, feedback, settings and check-ins."""
    profile = data.profile() or {}
    history = data.all(HISTORY_TABLE)
    sent = [coaching.SentTip(d["tip_id"], d["topic"]) for d in history if "tip_id" in d]
    helpful = {d.get("topic") for d in history if d.get("feedback") == "helpful"}
    weights = coaching.topic_weights(data.all("episodes"), now, helpful_topics=helpful)
    return coaching.choose_tip(
        library,
        sent,
        weights=weights,
        not_for_me=profile.get("tips_not_for_me") or (),
        topics_off=profile.get("tips_topics_off") or (),
        rng=rng,
    )


def record_tip(data: UserData, tip: Tip, now: datetime, kind: str, day: date) -> int:
    """Add a tip to the user's history (newest HISTORY_KEEP kept); returns its id."""
    history_id = data.insert(
        HISTORY_TABLE,
        {
            "tip_id": tip.id,
            "topic": tip.topic,
            "kind": kind,  # "morning" | "on_demand"
            "sent_at": now.isoformat(),
            "local_date": day.isoformat(),
            "feedback": None,  # "helpful" | "not_for_me"
        }
    )
    excess = data.count(HISTORY_TABLE) - HISTORY_KEEP
    if excess > 0:
        for old in data.all(HISTORY_TABLE)[:excess]:
            data.remove(HISTORY_TABLE, old["id"])
    return history_id


@dataclass(frozen=True)
class Claim:
    next_at: datetime | None  # when to look at this user again (None: not scheduled)
    tip: Tip | None = None  # set when a morning tip is to be sent now
    history_id: int = 0


def claim(data: UserData, now: datetime, library: TipLibrary, rng: random.Random) -> Claim:
    """Decide and record, in one atomic write, whether this user gets their morning tip now.

    `last_tip_date` is written before anything is sent: if the process dies mid-send the tip
    may be lost, but it can never be sent twice.
    """
    profile = data.profile()
    schedule = schedule_of(profile)
    if profile is None or schedule is None:
        return Claim(None)
    last = _parse_date(profile.get("last_tip_date"))
    decision = coaching.verdict(now, schedule.tz, schedule.tip_time, last, schedule.paused_until)
    if decision.verdict is Verdict.NOT_YET:
        return Claim(first_check(schedule, now, last_tip_date=last))
    if decision.verdict is Verdict.PAUSED:
        return Claim(first_check(schedule, now, last_tip_date=last))
    if decision.verdict is not Verdict.SEND:  # already sent, too late or quiet: skip today
        return Claim(first_check(schedule, now, last_tip_date=decision.day))
    data.update_profile({"last_tip_date": decision.day.isoformat()})
    next_at = first_check(schedule, now, last_tip_date=decision.day)
    tip = pick_tip(data, now, library, rng)
    if tip is None:  # every topic switched off or refused: nothing to send today
        return Claim(next_at)
    return Claim(next_at, tip, record_tip(data, tip, now, "morning", decision.day))


# ---------------------------------------------------------------------------- the scheduler

Renderer = Callable[[int, Tip, int], tuple[str, Any]]  # (uid, tip, history id) -> text, markup


class TipScheduler:
    def __init__(
        self,
        app: App,
        library: TipLibrary,
        render: Renderer,
        *,
        concurrency: int = 4,
        catch_up: timedelta = CATCH_UP,
        rng: random.Random | None = None,
    ) -> None:
        self.app = app
        self.library = library
        self.render = render
        self.concurrency = concurrency
        self.catch_up = catch_up
        self.rng = rng or random.Random()
        self.index = DueIndex()
        self._changes: deque[tuple[int, dict[str, Any] | None]] = deque()
        self._generation: dict[int, int] = {}  # bumped per applied change; guards races
        self._queue: deque[int] = deque()
        self._queued: set[int] = set()
        self._workers = 0
        self.sent = 0  # morning tips delivered since start (for the benchmark and logs)

    @property
    def services(self) -> Any:
        return self.app.bot_data["services"]

    def on_index_change(self, uid: int, entry: dict[str, Any] | None) -> None:
        """Store listener (any thread): remember the change; the next tick applies it."""
        self._changes.append((uid, entry))

    async def start(self, _app: Any = None) -> None:
        """Startup hook: rebuild from the store, then tick every `tip_tick_seconds`."""
        store = self.services.store
        store.index_listeners.append(self.on_index_change)
        entries = await asyncio.to_thread(lambda: list(store.index_entries()))
        self.index.rebuild(entries, self.services.clock.now(), self.catch_up)
        log.info("tip schedule rebuilt for %d users", len(self.index))
        interval = self.services.settings.tip_tick_seconds
        assert self.app.job_queue is not None
        self.app.job_queue.run_repeating(
            self._tick,
            interval=interval,
            first=interval,
            name="morning-tips",
            job_kwargs={
                # A tick that starts late (busy loop, suspended host) must still run: each tick
                # sends everyone due by now, so lateness loses nothing. The 1 s default would
                # silently drop it. Missed ticks are coalesced into one run for the same reason,
                # and one instance at a time (a tick only queues work, so it is short anyway).
                "misfire_grace_time": None,
                "coalesce": True,
                "max_instances": 1,
            },
        )

    async def _tick(self, _ctx: Any) -> None:
        self.tick()

    def tick(self) -> int:
        """Apply profile changes, queue whoever is due, make sure workers run. Returns #queued."""
        now = self.services.clock.now()
        while self._changes:
            uid, entry = self._changes.popleft()
            self._generation[uid] = self._generation.get(uid, 0) + 1
            schedule = schedule_of(entry)
            self.index.set(uid, None if schedule is None else first_check(schedule, now))
        queued = 0
        for uid in self.index.pop_due(now):
            if uid not in self._queued:
                self._queued.add(uid)
                self._queue.append(uid)
                queued += 1
        while self._queue and self._workers < self.concurrency and self.app.running:
            self._workers += 1
            self.app.create_task(self._work(), name="tip-worker")
        return queued

    async def _work(self) -> None:
        try:
            while self._queue and self.app.running:
                uid = self._queue.popleft()
                self._queued.discard(uid)
                try:
                    await self.process(uid)
                except Exception as exc:  # never let one user stop the worker
                    log.error("tip for one user failed: %s", type(exc).__name__)
        finally:
            self._workers -= 1

    async def process(self, uid: int) -> bool:
        """Claim and send one user's morning tip if it is due; True if one was delivered."""
        services = self.services
        generation = self._generation.get(uid, 0)
        now = services.clock.now()
        try:
            result = await services.store.transact(
                uid, lambda data: claim(data, now, self.library, self.rng)
            )
        except Exception as exc:  # storage trouble for one user must not stop the others
            log.error("tip claim failed: %s", type(exc).__name__)
            self._reschedule(uid, generation, now + RETRY_AFTER_ERROR)
            return False
        self._reschedule(uid, generation, result.next_at)
        if result.tip is None:
            return False
        text, markup = self.render(uid, result.tip, result.history_id)
        try:
            message = await deliver(self.app.bot, services.store, uid, text, reply_markup=markup)
        except Exception as exc:  # e.g. a BadRequest from our own markup: log, go on
            log.error("tip delivery failed: %s", type(exc).__name__)
            return False
        if message is not None:
            self.sent += 1
        return message is not None

    def _reschedule(self, uid: int, generation: int, at: datetime | None) -> None:
        # A profile change applied while we were claiming may have set a fresher schedule; keep
        # it, unless it was popped again meanwhile (then the claim's view is the fresh one).
        if self._generation.get(uid, 0) == generation or self.index.next_of(uid) is None:
            self.index.set(uid, at)
