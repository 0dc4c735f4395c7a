"""End-to-end harness: the real Application (built by production's build_application) polls the
loopback Bot API over real HTTP; tests act as Telegram users and read the TinyDB files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.app import App, build_application, start_polling, stop_polling
from bot.clock import ManualClock
from bot.config import Settings
from bot.sandbox import FakeUser, LoopbackBotAPI

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

    @property
    def settings(self) -> Settings:
        return self.server.settings_for(self.data_dir, flood_limit=self.flood_limit)

    async def start(self, **overrides: Any) -> App:
        self.app = build_application(self.settings, clock=self.clock, **overrides)
        await start_polling(self.app, timeout=1)
        return self.app

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
