"""`twitch-coach sandbox`: try the real bot in a terminal, with no Telegram account or token.

The real Application (``build_application``) polls the loopback Bot API in this process, and the
terminal is one user's chat, driven through the same :class:`FakeUser` the tests use:

- bot messages are printed with their inline buttons numbered: type the number to press one;
- the reply keyboard is shown numbered too: type its number or its label;
- an edit is printed as an update of the earlier message (same message number);
- photos and documents are saved to a folder and their paths printed;
- ``/quit``, Ctrl-C or Ctrl-D leave cleanly.

On a terminal, prompt_toolkit reads the line (bot messages appear above it, and Ctrl-C is a key,
so ``make`` around us is not interrupted); on a pipe, plain lines are read in a helper thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import re
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.sandbox.client import BotMessage, FakeUser
from bot.sandbox.server import DEFAULT_TOKEN, LoopbackBotAPI

FIRST_LINE = (
    "Twitch Coach offline sandbox: the real bot runs against a stand-in for Telegram on this "
    "computer, and nothing is sent anywhere."
)
NO_TOKEN_LINE = (
    "Twitch Coach offline sandbox (no TELEGRAM_BOT_TOKEN is set): the real bot runs against a "
    "stand-in for Telegram on this computer, and nothing is sent anywhere."
)
QUIT_COMMANDS = frozenset({"/quit", "/exit"})
SANDBOX_USER_ID = 1001
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Button:
    """What a number typed by the person stands for."""

    kind: str  # "callback" | "url" | "reply"
    label: str
    message_id: int = 0
    data: str = ""


class ChatView:
    """Turns bot events into terminal text and typed lines into user actions."""

    def __init__(self, user: FakeUser, files_dir: Path, out: Callable[[str], None]) -> None:
        self.user = user
        self.files_dir = files_dir
        self.out = out
        self.buttons: dict[int, Button] = {}
        self._next_number = 1
        self._reply_keyboard: list[list[str]] | None = None
        self._reply_numbers: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def _number(self, button: Button) -> int:
        n = self._next_number
        self._next_number += 1
        self.buttons[n] = button
        return n

    # -- bot -> terminal ----------------------------------------------------------------------

    def render(self, ev: BotMessage) -> str:
        """The text shown for one event (a new message, an edit or a deletion)."""
        if ev.is_deleted:
            return f"── bot deleted message {ev.message_id}"
        head = "updated message" if ev.is_edit else "message"
        lines = [f"── bot, {head} {ev.message_id}:"]
        if ev.kind in ("photo", "document") and not ev.is_edit:
            lines.append(f"   [{ev.kind} saved to {self._save_file(ev)}]")
        lines += [f"   {line}" for line in ev.text.splitlines()]
        for row in ev.raw.get("reply_markup", {}).get("inline_keyboard", []):
            cells = []
            for b in row:
                if "callback_data" in b:
                    n = self._number(
                        Button("callback", b["text"], ev.message_id, b["callback_data"])
                    )
                    cells.append(f"[{n}] {b['text']}")
                elif "url" in b:
                    n = self._number(Button("url", b["text"], ev.message_id, b["url"]))
                    cells.append(f"[{n}] {b['text']} (link)")
            if cells:
                lines.append("   " + "   ".join(cells))
        if ev.reply_keyboard is not None and not ev.is_edit:
            lines += self._render_reply_keyboard(ev.reply_keyboard)
        elif ev.removes_reply_keyboard:
            self._reply_keyboard, self._reply_numbers = None, {}
            lines.append("   (keyboard hidden)")
        return "\n".join(lines)

    def _render_reply_keyboard(self, keyboard: list[list[str]]) -> list[str]:
        if keyboard != self._reply_keyboard:  # the same keyboard again keeps its numbers
            self._reply_keyboard = keyboard
            self._reply_numbers = {
                label: self._number(Button("reply", label)) for row in keyboard for label in row
            }
        lines = ["   keyboard (type a number or the words):"]
        for row in keyboard:
            lines.append("   " + "   ".join(f"[{self._reply_numbers[x]}] {x}" for x in row))
        return lines

    def _save_file(self, ev: BotMessage) -> Path:
        name = _SAFE_NAME.sub("_", _file_name(ev)).strip("._") or ev.kind
        path = self.files_dir / f"{ev.message_id}-{name}"
        self.files_dir.mkdir(parents=True, exist_ok=True)
        path.write_bytes(ev.file_bytes or b"")
        return path

    # -- terminal -> bot ----------------------------------------------------------------------

    async def handle(self, line: str) -> bool:
        """Act on one typed line; False means "leave"."""
        text = line.strip()
        if not text:
            return True
        if text.lower() in QUIT_COMMANDS:
            return False
        if text.startswith("\\"):  # \7 sends "7" even when 7 is a button number
            await self.user.send(text[1:])
            return True
        if text.isdigit() and int(text) in self.buttons:
            self._press(int(text))
            return True
        if text.isdigit() and len(text) < 4:
            self.out(f"   (no button [{text}]; to send the number itself, type \\{text})")
            return True
        await self.user.send(text)
        return True

    def _press(self, number: int) -> None:
        button = self.buttons[number]
        if button.kind == "reply":
            self._spawn(self._send_label(button.label))
        elif button.kind == "url":
            self.out(f"   (a link: {button.data})")
        else:
            current = {m.message_id: m for m in self.user.messages}.get(button.message_id)
            if current is None or button.data not in current.callback_data.values():
                self.out(f"   (button [{number}] is gone: that message has changed)")
                return
            self._spawn(self._press_callback(button))

    async def _send_label(self, label: str) -> None:
        await self.user.send(label)

    async def _press_callback(self, button: Button) -> None:
        try:
            answer = await self.user.press_data(button.data, button.message_id, timeout=15)
        except TimeoutError:
            self.out(f"   (the bot did not react to “{button.label}”)")
            return
        if answer:
            self.out(f"   ↳ {answer}")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        # Pressing does not block typing: the answer is printed whenever it comes.
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def print_events(self) -> None:
        """Print every bot event as it arrives (runs until cancelled)."""
        while True:
            try:
                ev = await self.user.next_event(timeout=3600)
            except TimeoutError:
                continue
            self.out(self.render(ev))

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _file_name(ev: BotMessage) -> str:
    """The bot's own file name when it gave one ("report.pdf"); else the kind of message with the
    extension of its content type, which the loopback server read from the name the upload came
    with or from its first bytes ("photo.png" for a chart sent as bare bytes, whose upload name
    is python-telegram-bot's stand-in "application.octet-stream")."""
    if ev.filename and mimetypes.guess_type(ev.filename)[0] is not None:
        return ev.filename
    return ev.kind + (mimetypes.guess_extension(ev.mime_type or "") or ".bin")


# -- input sources ------------------------------------------------------------------------------


async def _tty_lines() -> AsyncIterator[str]:
    from prompt_toolkit import PromptSession

    session: PromptSession[str] = PromptSession()
    while True:
        try:
            yield await session.prompt_async("you › ")
        except (EOFError, KeyboardInterrupt):  # Ctrl-D, Ctrl-C
            return


async def _pipe_lines() -> AsyncIterator[str]:
    # A daemon thread: a read blocked on stdin never holds up the exit.
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def reader() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=reader, name="sandbox-stdin", daemon=True).start()
    while (line := await queue.get()) is not None:
        yield line


# -- the session --------------------------------------------------------------------------------


async def run_sandbox(
    data_dir: Path,
    files_dir: Path,
    *,
    user_id: int = SANDBOX_USER_ID,
    first_name: str = "Friend",
    tty: bool | None = None,
) -> int:
    """Run the chat until /quit, Ctrl-C, Ctrl-D or SIGTERM. Returns the exit code."""
    print("Starting the bot...", flush=True)  # loading it takes a few seconds on a slow machine
    from bot.app import build_application, start_polling, stop_polling
    from bot.content import ContentError, load_content
    from bot.logs import setup_logging
    from bot.storage.errors import StorageError

    tty = sys.stdin.isatty() and sys.stdout.isatty() if tty is None else tty
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    # Only warnings, so the chat stays readable; the token is the public sandbox one anyway.
    setup_logging(None, level=logging.WARNING)
    server = LoopbackBotAPI(DEFAULT_TOKEN, bot_username="twitch_coach_sandbox_bot")
    server.record_calls = False  # a long session must not grow memory
    await server.start()
    settings = server.settings_for(data_dir)
    try:
        app = build_application(settings, content=load_content())
    except (StorageError, ContentError) as exc:
        await server.stop()
        hint = " (is another sandbox running?)" if isinstance(exc, StorageError) else ""
        print(f"twitch-coach sandbox: {exc}{hint}", file=sys.stderr)
        return 2
    await start_polling(app, timeout=1)
    print(f"Data folder: {data_dir} (COACH_DATA_DIR changes it). Files the bot sends: {files_dir}")
    print("Type /start to begin. A number presses that button; /quit or Ctrl-C leaves.")

    view = ChatView(server.user(user_id, first_name=first_name), files_dir, out=_print)
    printer = asyncio.create_task(view.print_events())
    reading = asyncio.create_task(_read_loop(view, tty))
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({reading, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, stopped):
            task.cancel()
        await asyncio.gather(reading, stopped, return_exceptions=True)
        await view.close()
        # Let the bot finish what it is doing (and save it) before the printer goes.
        await stop_polling(app)
        await asyncio.sleep(0.05)
        printer.cancel()
        await asyncio.gather(printer, return_exceptions=True)
        await server.stop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
    print(f"Bye. The sandbox data stays in {data_dir}.")
    return 0


def _print(text: str) -> None:
    print(text, flush=True)


async def _read_loop(view: ChatView, tty: bool) -> None:
    if tty:
        from prompt_toolkit.patch_stdout import patch_stdout

        # Bot messages are printed above the line being typed instead of through it.
        with patch_stdout(raw=True):
            async for line in _tty_lines():
                if not await view.handle(line):
                    return
        return
    # Piped input is a script: let the bot answer each line before the next one is read, so a
    # button number refers to the buttons the bot has shown by then.
    async for line in _pipe_lines():
        await _settle(view)
        if not await view.handle(line):
            return
    await _settle(view)


async def _settle(view: ChatView, quiet: float = 0.3, limit: float = 10.0) -> None:
    """Wait until the bot has been silent for ``quiet`` seconds (at most ``limit``)."""
    seen = -1
    for _ in range(int(limit / quiet)):
        now = len(view.user.events) + len(view.user.callback_answers)
        if now == seen:
            return
        seen = now
        await asyncio.sleep(quiet)


def main(data_dir: Path, files_dir: Path) -> int:
    """Entry point for the CLI; the caller has printed FIRST_LINE already."""
    try:
        return asyncio.run(run_sandbox(data_dir, files_dir))
    except KeyboardInterrupt:  # Ctrl-C before the handlers were in place
        return 130
