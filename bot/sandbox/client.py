"""Test-side view of the loopback Bot API: a fake Telegram user and snapshots of bot messages.

A :class:`FakeUser` is a handle on one private chat of a :class:`LoopbackBotAPI`. It sends
messages and button presses as updates, and reads the bot's replies through an event cursor.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.sandbox.server import ChatState, LoopbackBotAPI, StoredMessage

# Button data no bot signs: the bot answers it ("expired") and changes nothing (see settle()).
SETTLE_PROBE = "settle-probe"
# "/cmd" or "/cmd@botname" at the start of a message is what Telegram marks as a bot command.
_COMMAND_RE = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


@dataclass(frozen=True, slots=True)
class CallbackAnswer:
    """What the bot said in answerCallbackQuery for one button press."""

    query_id: str
    data: str
    message_id: int | None
    text: str | None
    show_alert: bool
    url: str | None


@dataclass(frozen=True, slots=True)
class BotMessage:
    """A snapshot of one bot message (or one change to it) as the user would see it.

    ``text`` is the visible text (HTML tags removed, entities decoded); for photos and documents
    it is the caption ("" if none). ``raw_text`` is exactly what the bot sent.
    """

    message_id: int
    kind: str  # "text" | "photo" | "document"
    text: str
    raw_text: str
    parse_mode: str | None
    buttons: list[list[str]]
    callback_data: dict[str, str]
    urls: dict[str, str]
    reply_keyboard: list[list[str]] | None
    removes_reply_keyboard: bool = False
    is_edit: bool = False
    is_deleted: bool = False
    from_bot: bool = True
    caption: str | None = None
    file_bytes: bytes | None = field(default=None, repr=False)
    filename: str | None = None
    mime_type: str | None = None
    date: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def labels(self) -> list[str]:
        """All inline button labels, row by row, flattened."""
        return [label for row in self.buttons for label in row]

    def data_for(self, label: str) -> str:
        """The callback_data of the button labelled exactly ``label``."""
        try:
            return self.callback_data[label]
        except KeyError:
            raise AssertionError(f"no button {label!r}; buttons: {self.buttons}") from None


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat id == user id)."""

    def __init__(self, server: LoopbackBotAPI, chat: ChatState) -> None:
        self._server = server
        self._chat = chat
        self._cursor = 0  # index into chat.events of the next unseen event

    # -- identity --------------------------------------------------------------------------

    @property
    def user_id(self) -> int:
        return self._chat.chat_id

    @property
    def chat_id(self) -> int:
        return self._chat.chat_id

    @property
    def user(self) -> dict[str, Any]:
        """The Telegram User object of this user."""
        return self._chat.user

    def __repr__(self) -> str:
        return f"FakeUser({self.user_id})"

    # -- acting ----------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: int | None = None) -> dict[str, Any]:
        """Send a text message to the bot; returns the user's Message dict."""
        extra: dict[str, Any] = {}
        match = _COMMAND_RE.match(text)
        if match:
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": match.end()}]
        if reply_to is not None and reply_to in self._chat.messages:
            extra["reply_to_message"] = dict(self._chat.messages[reply_to].data)
        msg = self._server.add_user_message(self._chat, text, extra)
        if self._server.enqueue_update("message", msg) is None:
            raise AssertionError("the bot's allowed_updates exclude 'message'")
        await asyncio.sleep(0)
        return msg

    async def tap(self, label: str) -> dict[str, Any]:
        """Press a reply-keyboard button: checks it is on screen, then sends its text."""
        keyboard = self._chat.reply_keyboard
        if keyboard is None or not any(label in row for row in keyboard):
            raise AssertionError(f"no reply-keyboard button {label!r}; keyboard: {keyboard}")
        return await self.send(label)

    async def press(
        self,
        label: str,
        *,
        message_id: int | None = None,
        data: str | None = None,
        timeout: float = 5.0,
        wait: bool = True,
    ) -> str | None:
        """Press the inline button labelled ``label`` and return the callback answer text.

        Looks in ``message_id`` or else the newest bot message having such a button (exact label
        first, then a unique substring). ``data`` forges the callback data sent.
        """
        stored, button = self._find_button(label, message_id)
        payload = data if data is not None else button.get("callback_data")
        if payload is None:
            raise AssertionError(f"button {label!r} has no callback_data: {button}")
        return await self._fire(stored, payload, timeout, wait, what=f"button {label!r}")

    async def press_data(
        self,
        data: str,
        message_id: int | None = None,
        *,
        timeout: float = 5.0,
        wait: bool = True,
    ) -> str | None:
        """Send arbitrary callback data from ``message_id`` (default: newest bot message)."""
        if message_id is not None:
            stored = self._chat.messages.get(message_id)
            if stored is None:
                raise AssertionError(f"message {message_id} does not exist in chat {self.chat_id}")
        else:
            stored = next((m for m in reversed(self._chat.messages.values()) if m.from_bot), None)
            if stored is None:
                raise AssertionError("the bot has sent no message to press a button on")
        return await self._fire(stored, data, timeout, wait, what=f"callback data {data!r}")

    def block(self, *, notify: bool = True) -> None:
        """Block the bot: its sends/edits to this chat now fail with 403.

        ``notify`` also delivers the my_chat_member update Telegram sends on blocking.
        """
        self._server.set_blocked(self._chat, True, notify=notify)

    def unblock(self, *, notify: bool = True) -> None:
        """Unblock the bot (and by default deliver the my_chat_member update)."""
        self._server.set_blocked(self._chat, False, notify=notify)

    # -- observing -------------------------------------------------------------------------

    async def next_message(self, timeout: float = 5.0) -> BotMessage:
        """The next unseen send-or-edit by the bot (deletions are skipped)."""
        return await self._next(timeout, skip_deletes=True)

    async def next_event(self, timeout: float = 5.0) -> BotMessage:
        """The next unseen event of any kind, deletions included (``is_deleted``)."""
        return await self._next(timeout, skip_deletes=False)

    async def expect_silence(self, seconds: float = 0.5) -> None:
        """Assert that no unseen event exists now or arrives within ``seconds``.

        A slow bot passes this by being late: to check that nothing more comes in reply to what
        the user sent, prefer :meth:`expect_no_more`.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            unseen = self._chat.events[self._cursor :]
            if unseen:
                raise AssertionError(f"expected silence from the bot, got: {unseen}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            try:
                async with asyncio.timeout(remaining):
                    await self._chat.changed.wait()
            except TimeoutError:
                pass

    async def settle(self, timeout: float = 10.0) -> None:
        """Return once the bot has handled every update this user sent before.

        Presses a button on the newest bot message with data no bot signs (SETTLE_PROBE): the
        bot answers it and changes nothing, and since it handles one person's updates in order
        (`PerUserUpdateProcessor`), that answer comes only after everything sent earlier was
        handled, replies and error messages included. Timers and scheduled jobs are not
        covered (the e2e harness has `user_jobs_done` for those), nor a user whom flood control
        is cutting off (the probe is skipped like the rest).
        """
        await self.press_data(SETTLE_PROBE, timeout=timeout)

    async def expect_no_more(self, timeout: float = 10.0) -> None:
        """Assert that the bot sent nothing unseen in reply to what this user sent so far:
        :meth:`settle` first, so a slow bot cannot make the check pass by being late."""
        await self.settle(timeout)
        unseen = self._chat.events[self._cursor :]
        if unseen:
            raise AssertionError(f"expected nothing more from the bot, got: {unseen}")

    def mark_seen(self) -> None:
        """Skip every event received so far."""
        self._cursor = len(self._chat.events)

    @property
    def events(self) -> list[BotMessage]:
        """Every event in this chat so far (seen or not)."""
        return list(self._chat.events)

    @property
    def messages(self) -> list[BotMessage]:
        """Current state of the bot's messages in this chat (after edits and deletions)."""
        return [self._server.snapshot(m) for m in self._chat.messages.values() if m.from_bot]

    @property
    def last_message(self) -> BotMessage | None:
        """The newest bot message still in the chat, in its current state."""
        for m in reversed(self._chat.messages.values()):
            if m.from_bot:
                return self._server.snapshot(m)
        return None

    @property
    def photos(self) -> list[BotMessage]:
        return [m for m in self.messages if m.kind == "photo"]

    @property
    def documents(self) -> list[BotMessage]:
        return [m for m in self.messages if m.kind == "document"]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self._chat.callback_answers)

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Labels of the reply keyboard the bot last set, or None (never set or removed)."""
        return self._chat.reply_keyboard

    @property
    def chat_actions(self) -> list[str]:
        """Actions sent with sendChatAction ("typing", ...), oldest first."""
        return list(self._chat.chat_actions)

    @property
    def blocked(self) -> bool:
        return self._chat.blocked

    # -- internals -------------------------------------------------------------------------

    async def _next(self, timeout: float, *, skip_deletes: bool) -> BotMessage:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        chat = self._chat
        while True:
            while self._cursor < len(chat.events):
                event = chat.events[self._cursor]
                self._cursor += 1
                if not (skip_deletes and event.is_deleted):
                    return event
            remaining = deadline - loop.time()
            if remaining <= 0:
                last = chat.events[-3:]
                raise TimeoutError(
                    f"no new bot message for user {self.user_id} within {timeout}s; "
                    f"latest events: {last}"
                )
            try:
                async with asyncio.timeout(remaining):
                    await chat.changed.wait()
            except TimeoutError:
                pass

    def _find_button(
        self, label: str, message_id: int | None
    ) -> tuple[StoredMessage, dict[str, Any]]:
        if message_id is not None:
            only = self._chat.messages.get(message_id)
            candidates = [only] if only is not None else []
        else:
            candidates = [m for m in reversed(self._chat.messages.values()) if m.from_bot]
        keyboards = [(m, m.inline_buttons()) for m in candidates]
        for m, buttons in keyboards:
            for button in buttons:
                if button.get("text") == label:
                    return m, button
        for m, buttons in keyboards:
            partial = [b for b in buttons if label in b.get("text", "")]
            if len(partial) == 1:
                return m, partial[0]
            if len(partial) > 1:
                names = [b.get("text") for b in partial]
                raise AssertionError(
                    f"label {label!r} is ambiguous in message {m.message_id}: {names}"
                )
        available = {m.message_id: [b.get("text") for b in bs] for m, bs in keyboards if bs}
        where = f"message {message_id}" if message_id is not None else "this chat"
        raise AssertionError(
            f"no inline button {label!r} in {where}; buttons by message id: {available}"
        )

    async def _fire(
        self, stored: StoredMessage, data: str, timeout: float, wait: bool, what: str
    ) -> str | None:
        _query_id, answered = self._server.add_callback_query(self._chat, stored, data)
        if not wait:
            return None
        try:
            async with asyncio.timeout(timeout):
                answer = await asyncio.shield(answered)
        except TimeoutError:
            raise TimeoutError(
                f"the bot did not answer the callback query for {what} within {timeout}s"
            ) from None
        return answer.text
