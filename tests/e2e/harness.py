"""End-to-end harness: the real Application (built by production's build_application) polls the
loopback Bot API over real HTTP; tests act as Telegram users and read what was stored through
the store, so the same test runs on the file store and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)

from bot.app import App, build_application, start_polling, stop_polling
from bot.clock import ManualClock
from bot.config import Secret, Settings
from bot.pushes import PushScheduler
from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.storage import Store, store_for
from bot.telegram.context import services_of
from bot.telegram.jobs import job_belongs_to

T = TypeVar("T")

TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"


class BotHarness:
    """One bot process's worth of state: start, stop, restart, and look at what it stored.

    Flood control is off by default: a test acts much faster than any person does (its own
    tests, tests/unit/test_updates.py and tests/e2e/test_flood.py, switch it on).
    """

    def __init__(
        self,
        server: LoopbackBotAPI,
        data_dir: Path,
        clock: ManualClock,
        *,
        database_url: str | None = None,
        flood_limit: int = 0,
    ) -> None:
        self.server = server
        self.data_dir = data_dir
        self.clock = clock
        self.database_url = database_url  # None: the file store in data_dir
        self.flood_limit = flood_limit
        self.app: App | None = None
        self._job_names: dict[str, str] = {}  # APScheduler job id -> PTB job name
        self._running_jobs: Counter[str] = Counter()  # job id -> runs not finished yet

    @property
    def settings(self) -> Settings:
        url = None if self.database_url is None else Secret(self.database_url)
        return self.server.settings_for(
            self.data_dir, database_url=url, flood_limit=self.flood_limit
        )

    async def start(self, **overrides: Any) -> App:
        self.app = build_application(self.settings, clock=self.clock, **overrides)
        self._track_jobs(self.app)
        await start_polling(self.app, timeout=1)
        return self.app

    def _track_jobs(self, app: App) -> None:
        """Follow which jobs are running (the JobQueue itself only lists the scheduled ones)."""
        assert app.job_queue is not None
        scheduler = app.job_queue.scheduler
        self._job_names.clear()
        self._running_jobs.clear()

        def follow(event: JobEvent) -> None:
            if event.code == EVENT_JOB_ADDED:
                job = scheduler.get_job(event.job_id)
                self._job_names[event.job_id] = job.name if job is not None else ""
            elif event.code == EVENT_JOB_SUBMITTED:
                self._running_jobs[event.job_id] += 1
            else:
                self._running_jobs[event.job_id] -= 1

        mask = EVENT_JOB_ADDED | EVENT_JOB_SUBMITTED | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        scheduler.add_listener(follow, mask)

    def user_jobs(self, user_id: int) -> list[str]:
        """Names of this user's jobs that are scheduled or running right now."""
        assert self.app is not None and self.app.job_queue is not None
        scheduled = [j.name for j in self.app.job_queue.jobs() if job_belongs_to(j.name, user_id)]
        running = [
            self._job_names.get(job_id, "")
            for job_id, runs in self._running_jobs.items()
            if runs > 0 and job_belongs_to(self._job_names.get(job_id), user_id)
        ]
        return [name or "" for name in scheduled] + running

    async def user_jobs_done(self, user_id: int, timeout: float = 10.0) -> None:
        """Wait until none of this user's jobs (timers, follow-ups) is scheduled or running:
        after that, nothing can reach them unless they send something."""
        async with asyncio.timeout(timeout):
            while self.user_jobs(user_id):
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        if self.app is not None:
            await stop_polling(self.app)
            self.app = None

    async def restart(self) -> App:
        await self.stop()
        return await self.start()

    def user(self, user_id: int, first_name: str = "Sam") -> FakeUser:
        return self.server.user(user_id, first_name=first_name)

    def user_file(self, user_id: int) -> Path:
        """The user's file (file store only: tests about files are marked files_only)."""
        assert self.database_url is None, "a file-store detail in a test that runs on PostgreSQL"
        return self.data_dir / "users" / f"{user_id % 256:02x}" / f"{user_id}.json"

    def read(self, fn: Callable[[Store], T]) -> T:
        """Run fn on the running bot's store, or on a store opened for it while the bot is
        stopped."""
        if self.app is not None:
            return fn(self.app.bot_data["services"].store)
        with store_for(self.settings) as store:
            return fn(store)

    def stored(self, user_id: int) -> dict[str, Any]:
        """What is stored for the user, in the shape of a file-store file:
        {table: {"<id>": document}}, the profile and the flow state as one-document tables."""
        tables = self.read(lambda store: store.export_user_sync(user_id))
        return {
            name: {str(doc["id"]): {k: v for k, v in doc.items() if k != "id"} for doc in docs}
            for name, docs in tables.items()
        }

    def has_data(self, user_id: int) -> bool:
        return bool(self.stored(user_id))

    def stored_profile(self, user_id: int) -> dict[str, Any]:
        docs = self.stored(user_id)["profile"]
        assert len(docs) == 1
        return next(iter(docs.values()))

    def leftovers(self, user_id: int) -> list[str]:
        """Everything that still names this user, found without the store's help: files whose
        name or content holds the id, or database rows with that user_id in any table."""
        if self.database_url is None:
            return [
                str(path)
                for path in self.data_dir.rglob("*")
                if path.is_file()
                and (str(user_id) in path.name or str(user_id).encode() in path.read_bytes())
            ]
        import psycopg
        from psycopg import sql

        found = []
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            tables = conn.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = 'public' AND column_name = 'user_id'"
            ).fetchall()
            for (table,) in tables:
                query = sql.SQL("SELECT count(*) FROM {} WHERE user_id = %s")
                row = conn.execute(query.format(sql.Identifier(table)), (user_id,)).fetchone()
                if row and row[0]:
                    found.append(f"{table}: {row[0]} rows")
        return found


class PushHarness(BotHarness):
    """For daily pushes: the scheduler ticks on whole minutes of the ManualClock as in
    production. To assert that nothing came, wait for a tick that began after the clock last
    moved and for every push it queued (`quiet`), then check for silence."""

    @property
    def pushes(self) -> PushScheduler:
        assert self.app is not None
        return services_of(self.app).pushes

    def next_tip_at(self, user_id: int) -> datetime | None:
        return self.pushes.next_at("tip", user_id)

    async def quiet(self, *users: FakeUser) -> None:
        """A tick has run at the clock's current time and finished its work: nothing came."""
        await self.pushes.settled()
        for user in users:
            await user.expect_silence(0)

    def history(self, user_id: int) -> list[dict[str, Any]]:
        """The person's tip history as stored."""
        return list(self.stored(user_id).get("tips", {}).values())


# Wednesday 10 June 2026; Berlin is UTC+2 (summer time). Push tests start at 07:00 Berlin.
PUSH_DAY = datetime(2026, 6, 10, tzinfo=UTC)


def berlin(hour: int, minute: int = 0, second: float = 0, days: int = 0) -> datetime:
    return PUSH_DAY + timedelta(days=days, hours=hour - 2, minutes=minute, seconds=second)


def is_tip(message: Any) -> bool:
    return message.text.startswith("💡") and "👍 Helpful" in message.labels


async def onboard(
    bot: BotHarness, user_id: int, zone_button: str = "Berlin", diary: str | None = "No thanks"
) -> FakeUser:
    """Walk a user through onboarding with buttons only; return them at the main menu.

    ``diary`` is the button pressed on the evening-check offer ("✓ Yes, at 20:00", "No thanks");
    None returns them at that offer, unanswered."""
    user = bot.user(user_id)
    await user.send("/start")
    await user.next_message()  # welcome
    await user.next_message()  # the note
    await user.press("I understand")
    await user.next_message()  # the note, edited
    await user.next_message()  # time zone question
    await user.press(zone_button)
    await user.next_message()  # zone confirmed (edit)
    await user.next_message()  # tip time question
    await user.press("08:00")
    await user.next_message()  # time confirmed (edit)
    offer = await user.next_message()  # the evening check (diary)
    assert "evening check" in offer.text
    if diary is None:
        return user
    await user.press(diary)
    await user.next_message()  # the choice confirmed (edit)
    menu = await user.next_message()
    assert menu.reply_keyboard, "onboarding should end on the main menu"
    offer = await user.next_message()  # the optional red-flag check (insights), left unanswered
    assert "safety check" in offer.text
    return user
