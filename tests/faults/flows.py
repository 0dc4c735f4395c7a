"""User flows for fault trials that must survive anything in between (kills, leftovers of a
killed bot): every step waits for the screen it expects instead of counting messages."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bench.workload import CHECKIN_MENU
from bot.sandbox import FakeUser
from bot.sandbox.client import BotMessage


class FlowStalled(Exception):
    """The expected screen did not come (bot killed, or a leftover update got in the way)."""


async def wait_for(
    user: FakeUser, wanted: Callable[[BotMessage], bool], timeout: float = 3.0
) -> BotMessage:
    """Read the user's new messages until one matches."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise FlowStalled("expected screen never came")
        try:
            message = await user.next_message(timeout=remaining)
        except TimeoutError:
            raise FlowStalled("expected screen never came") from None
        if wanted(message):
            return message


async def press(user: FakeUser, label: str, timeout: float = 3.0) -> None:
    try:
        await user.press(label, timeout=timeout)
    except (AssertionError, TimeoutError) as exc:
        raise FlowStalled(str(exc)) from None


async def onboard_robust(user: FakeUser) -> None:
    """/start, the note, Berlin, 08:00, no evening check, until the main menu shows."""
    await user.send("/start")
    await wait_for(user, lambda m: "I understand" in m.labels)
    await press(user, "I understand")
    await wait_for(user, lambda m: any("Berlin" in label for label in m.labels))
    await press(user, "Berlin")
    await wait_for(user, lambda m: "08:00" in m.labels)
    await press(user, "08:00")
    await wait_for(user, lambda m: "No thanks" in m.labels)
    await press(user, "No thanks")
    await wait_for(user, lambda m: bool(m.reply_keyboard))


async def checkin_with_note(user: FakeUser, note: str) -> None:
    """A full check-in that ends with a typed note; returns once the bot confirmed "Saved" with
    that note (the bot stores before it confirms)."""
    await checkin_until_note(user)
    await user.send(note)
    await wait_for(user, lambda m: "Saved" in m.text and note in m.text)


async def checkin_until_note(user: FakeUser) -> None:
    """A check-in up to the point where the bot waits for the typed note."""
    await user.send(CHECKIN_MENU)
    await wait_for(user, lambda m: "How strong" in m.text)
    await press(user, "6")
    await wait_for(user, lambda m: "Where" in m.text)
    await press(user, "Calves or feet")
    await wait_for(user, lambda m: "✓ Calves or feet" in m.labels)
    await press(user, "Done ✓")
    await wait_for(user, lambda m: "How long" in m.text)
    await press(user, "Minutes")
    await wait_for(user, lambda m: "Add a note" in " ".join(m.labels))
    await press(user, "✍️ Add a note")
    await wait_for(user, lambda m: "Type your note" in m.text)
