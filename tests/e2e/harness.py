"""End-to-end harness: the real Application (built by production's build_application) polls the
loopback Bot API over real HTTP; tests act as Telegram users and read the TinyDB files."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ADDED,
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
)

from bot.app import App, build_application, start_polling, stop_polling
from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeUser, LoopbackBotAPI
from bot.telegram.jobs import job_belongs_to

TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"


class BotHarness:
    """One bot process's worth of state: start, stop, restart, and look at what it stored.

    Flood control is off by default: a test acts much faster than any person does (its own
    tests, tests/unit/test_updates.py and tests/e2e/test_flood.py, switch it on).
    """

    def __init__(
        self, server: LoopbackBotAPI, data_dir: Path, clock: ManualClock, *, flood_limit: int = 0
    ) -> None:
        self.server = server
        self.data_dir = data_dir
        self.clock = clock
        self.flood_limit = flood_limit
        self.app: App | None = None
        self._job_names: dict[str, str] = {}  # APScheduler job id -> PTB job name
        self._running_jobs: Counter[str] = Counter()  # job id -> runs not finished yet

    @property
    def settings(self) -> Settings:
        return self.server.settings_for(self.data_dir, flood_limit=self.flood_limit)

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
        return self.data_dir / "users" / f"{user_id % 256:02x}" / f"{user_id}.json"

    def stored(self, user_id: int) -> dict[str, Any]:
        """The user's TinyDB file as it is on disk."""
        return json.loads(self.user_file(user_id).read_text(encoding="utf-8"))

    def stored_profile(self, user_id: int) -> dict[str, Any]:
        docs = self.stored(user_id)["profile"]
        assert len(docs) == 1
        return next(iter(docs.values()))


async def onboard(bot: BotHarness, user_id: int, zone_button: str = "Berlin") -> FakeUser:
    """Walk a user through onboarding with buttons only; return them at the main menu."""
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
    menu = await user.next_message()
    assert menu.reply_keyboard, "onboarding should end on the main menu"
    offer = await user.next_message()  # the optional red-flag check (insights), left unanswered
    assert "safety check" in offer.text
    return user
