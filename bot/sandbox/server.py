"""Loopback Telegram Bot API: a local aiohttp server that speaks enough of the Bot API for PTB.

Point python-telegram-bot at it with ``ApplicationBuilder().base_url(server.base_url)
.base_file_url(server.base_file_url)``; drive it with :class:`~bot.sandbox.client.FakeUser`.
Every call is answered like Telegram would (shapes, limits, error texts), and faults can be
injected per method. Nothing is logged: parameters may contain health data, URLs the token.

Run standalone with ``python -m bot.sandbox.server --port 8081``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import itertools
import json
import mimetypes
import os
import re
import signal
import struct
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.config import Secret, Settings
from bot.sandbox.client import BotMessage, CallbackAnswer, FakeUser

DEFAULT_TOKEN = "123456:TEST-loopback-token-0123456789abcdefXYZ"

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_UPLOAD_BYTES = 50 * 1024 * 1024

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"

# Form values are JSON-encoded by PTB except plain strings, so these stay as sent.
_STRING_PARAMS = frozenset(
    {
        "text", "caption", "parse_mode", "callback_query_id", "action", "url", "language_code",
        "file_id", "photo", "document", "inline_message_id", "name", "description",
        "short_description", "secret_token", "ip_address", "business_connection_id",
        "message_effect_id", "emoji", "custom_title",
    }
)  # fmt: skip
# Object-valued parameters that a JSON body may still carry as JSON strings.
_OBJECT_PARAMS = frozenset(
    {
        "reply_markup", "commands", "allowed_updates", "entities", "caption_entities", "scope",
        "link_preview_options", "reply_parameters", "menu_button",
    }
)  # fmt: skip
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice",
        "upload_voice", "upload_document", "choose_sticker", "find_location",
        "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_BUTTON_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)  # fmt: skip
# Telegram's default when allowed_updates was never given.
_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_COMMAND_NAME_RE = re.compile(r"[a-z0-9_]{1,32}")


class ApiError(Exception):
    """A Bot API error reply: HTTP status == error_code."""

    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass(slots=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content: bytes = field(repr=False)
    content_type: str | None

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {len(self.content)} bytes)"


@dataclass(slots=True)
class StoredFile:
    """A file the bot sent, addressable by file_id and downloadable via getFile."""

    file_id: str
    file_unique_id: str
    content: bytes | None = field(repr=False)
    filename: str | None
    mime_type: str | None
    file_path: str
    url: str | None = None


@dataclass(slots=True)
class StoredMessage:
    """Server-side state of one message in a chat."""

    message_id: int
    data: dict[str, Any]  # Telegram-shaped; nested objects are replaced, never mutated
    from_bot: bool
    kind: str = "text"
    raw_text: str = ""
    parse_mode: str | None = None
    reply_keyboard: list[list[str]] | None = None
    removes_reply_keyboard: bool = False
    file: StoredFile | None = None

    def inline_buttons(self) -> list[dict[str, Any]]:
        markup = self.data.get("reply_markup") or {}
        return [b for row in markup.get("inline_keyboard", ()) for b in row]


@dataclass(eq=False, slots=True)
class ChatState:
    """One private chat: its messages, the bot's event log and the user's status."""

    chat_id: int
    user: dict[str, Any]
    chat: dict[str, Any]
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    events: list[BotMessage] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    blocked: bool = False
    reply_keyboard: list[list[str]] | None = None
    callback_answers: list[CallbackAnswer] = field(default_factory=list)
    chat_actions: list[str] = field(default_factory=list)

    def take_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def notify(self) -> None:
        # Waiters hold the old event; swapping keeps each wake-up O(1) without a lock.
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass(slots=True)
class _Fault:
    remaining: int | None  # None: until clear_faults()
    chat_id: int | None
    error_code: int = 429
    description: str = ""
    parameters: dict[str, Any] | None = None
    seconds: float = 0.0
    after: bool = False


@dataclass(slots=True)
class _PendingQuery:
    chat: ChatState
    message_id: int
    data: str
    answered: asyncio.Future[CallbackAnswer]


# -- text parsing (parse_mode) ------------------------------------------------------------------

_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s[^<>]*)?)>")
_ATTR_RE = re.compile(
    r"""([a-zA-Z_:][-a-zA-Z0-9_:.]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?"""
)
_ENTITY_RE = re.compile(r"&(lt|gt|amp|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline",
    "ins": "underline", "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough",
    "span": "spoiler", "tg-spoiler": "spoiler", "a": "text_link", "code": "code", "pre": "pre",
    "blockquote": "blockquote", "tg-emoji": "custom_emoji",
}  # fmt: skip
_MD2_NEVER_MARKUP = frozenset("#+-={}.!")


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _byte_offset(raw: str, index: int) -> int:
    return len(raw[:index].encode())


def _unescape(match: re.Match[str]) -> str:
    name = match.group(1)
    if name in _NAMED:
        return _NAMED[name]
    code = int(name[2:], 16) if name[1] in "xX" else int(name[1:])
    return chr(code) if 0 < code <= 0x10FFFF else ""


def parse_html(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Telegram's HTML parse mode: returns (plain text, entities) or raises a 400 ApiError."""
    if "<" not in raw and "&" not in raw:
        return raw, []
    out: list[str] = []
    pos = 0  # UTF-16 offset in the plain text
    stack: list[tuple[str, int, dict[str, str]]] = []
    entities: list[dict[str, Any]] = []
    i = 0
    while True:
        lt = raw.find("<", i)
        segment = raw[i:] if lt < 0 else raw[i:lt]
        if segment:
            text = _ENTITY_RE.sub(_unescape, segment)
            out.append(text)
            pos += _utf16_len(text)
        if lt < 0:
            break
        offset = _byte_offset(raw, lt)
        m = _TAG_RE.match(raw, lt)
        if m is None:
            raise _bad(f"can't parse entities: Unsupported start tag at byte offset {offset}")
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise _bad(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {offset}'
            )
        if closing:
            if not stack:
                raise _bad(f"can't parse entities: Unexpected end tag at byte offset {offset}")
            top, start, attrs = stack.pop()
            if top != name:
                raise _bad(
                    f"can't parse entities: Unmatched end tag at byte offset {offset}, "
                    f'expected "</{top}>", found "</{name}>"'
                )
            _close_html_entity(name, start, pos, attrs, stack, entities)
        else:
            attrs = {
                a.group(1).lower(): _ENTITY_RE.sub(
                    _unescape, a.group(2) or a.group(3) or a.group(4) or ""
                )
                for a in _ATTR_RE.finditer(m.group(3))
            }
            if name == "span" and attrs.get("class") != "tg-spoiler":
                raise _bad('can\'t parse entities: Tag "span" must have class "tg-spoiler"')
            stack.append((name, pos, attrs))
        i = m.end()
    if stack:
        raise _bad(
            "can't parse entities: Can't find end tag corresponding to start tag "
            f'"{stack[-1][0]}"'
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_html_entity(
    name: str,
    start: int,
    end: int,
    attrs: dict[str, str],
    stack: list[tuple[str, int, dict[str, str]]],
    entities: list[dict[str, Any]],
) -> None:
    language = attrs.get("class", "").removeprefix("language-") if name == "code" else ""
    if language and stack and stack[-1][0] == "pre":
        stack[-1][2]["language"] = language  # <pre><code class="language-x"> is one pre entity
        return
    if end <= start:
        return
    entity: dict[str, Any] = {"type": _HTML_TAGS[name], "offset": start, "length": end - start}
    if name == "a":
        if not attrs.get("href"):
            return
        entity["url"] = attrs["href"]
    elif name == "pre" and attrs.get("language"):
        entity["language"] = attrs["language"]
    elif name == "blockquote" and "expandable" in attrs:
        entity["type"] = "expandable_blockquote"
    elif name == "tg-emoji":
        entity["custom_emoji_id"] = attrs.get("emoji-id", "")
    entities.append(entity)


def parse_markdown_v2(raw: str) -> str:
    """A light MarkdownV2 check: the common reserved-character mistakes and the plain text."""
    out: list[str] = []
    code = None  # "`" or "```" while inside code
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "\\":
            if i + 1 >= n:
                raise _bad("can't parse entities: Character '\\' is reserved")
            out.append(raw[i + 1])
            i += 2
            continue
        if c == "`":
            fence = "```" if raw.startswith("```", i) else "`"
            if code is None:
                code = fence
            elif code == fence:
                code = None
            i += len(fence)
            continue
        if code is not None:
            out.append(c)
        elif raw.startswith("||", i):  # spoiler markers
            i += 1
        elif c == "]" and raw.startswith("(", i + 1):  # link: keep the text, drop the URL
            close = raw.find(")", i)
            i = close if close >= 0 else n
        elif c in _MD2_NEVER_MARKUP or c in "|()]" or (c == ">" and i and raw[i - 1] != "\n"):
            raise _bad(
                f"can't parse entities: Character '{c}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        elif c not in "*_~[>":
            out.append(c)
        i += 1
    return "".join(out)


def parse_text(
    raw: str, parse_mode: str | None, entities: Any = None
) -> tuple[str, list[dict[str, Any]]]:
    """(plain text, entities) for a text or caption under ``parse_mode``."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        return parse_html(raw)
    if mode == "markdownv2":
        return parse_markdown_v2(raw), []
    if mode == "markdown":
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", raw)
        return plain.translate({ord("*"): None, ord("_"): None, ord("`"): None}), []
    if mode:
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    return raw, list(entities) if isinstance(entities, list) else []


def _parse_markup(value: Any) -> tuple[dict[str, Any] | None, list[list[str]] | None, bool]:
    """Validate reply_markup -> (inline markup to store, reply keyboard labels, removes kb)."""
    if value is None or value == "":
        return None, None, False
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _bad("can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise _bad("object expected as reply markup")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
        for row in rows:
            for button in row:
                _check_inline_button(button)
        rows = [row for row in rows if row]
        return ({"inline_keyboard": rows} if rows else None), None, False
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad('field "keyboard" of the ReplyKeyboardMarkup must be an Array')
        labels = [[b if isinstance(b, str) else str(b.get("text", "")) for b in r] for r in rows]
        return None, labels, False
    if value.get("remove_keyboard"):
        return None, None, True
    if value.get("force_reply"):
        return None, None, False
    raise _bad('can\'t find field "inline_keyboard"')


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise _bad('can\'t parse inline keyboard button: Field "text" must be of type String')
    if not button["text"]:
        raise _bad("BUTTON_TEXT_EMPTY")
    actions = [a for a in _BUTTON_ACTIONS if a in button]
    if not actions:
        raise _bad(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise _bad("BUTTON_DATA_INVALID")
    if "url" in button and not str(button["url"]).strip():
        raise _bad("BUTTON_URL_INVALID")


# The first bytes of the file types a bot sends, for uploads whose name and content type say
# nothing (python-telegram-bot sends bytes without a file name as "application/octet-stream").
_MAGIC_BYTES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"%PDF-", "application/pdf"),
    (b"PK\x03\x04", "application/zip"),
)


def sniff_mime_type(content: bytes) -> str | None:
    """The content type that a file's first bytes show, if they show one."""
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return next((mime for magic, mime in _MAGIC_BYTES if content.startswith(magic)), None)


def _image_size(content: bytes) -> tuple[int, int] | None:
    """(width, height) for PNG; a nominal size for other image types; None if not an image."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return width, height
    if (sniff_mime_type(content) or "").startswith("image/"):
        return 800, 600
    return None


def _same(old: Any, new: Any, key: str) -> bool:
    """Equal as Telegram sees it: a missing field equals an empty one."""
    empty: Any = [] if key.endswith("entities") else ("" if key == "caption" else None)
    return (old or empty) == (new or empty)


def _as_int(value: Any, name: str, default: int | None = None) -> int:
    if value is None or value == "":
        if default is None:
            raise _bad(f"{name} is empty")
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"invalid {name} specified") from None


def _decode_form_value(key: str, value: str) -> Any:
    if key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id="@channel"


# -- the server ---------------------------------------------------------------------------------


class LoopbackBotAPI:
    """A Bot API server on 127.0.0.1 backed by in-memory chats of :class:`FakeUser` s."""

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "twitch_coach_test_bot",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "Twitch Coach",
        record_calls: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.host = host
        self.port = port
        self.record_calls = record_calls
        self._clock = clock
        bot_id = int(token.split(":", 1)[0]) if token.split(":", 1)[0].isdigit() else 123456
        self.bot_user: dict[str, Any] = {
            "id": bot_id, "is_bot": True, "first_name": bot_first_name, "username": bot_username,
        }  # fmt: skip
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.call_counts: Counter[str] = Counter()
        self.commands_by_scope: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook_url = ""
        self.bot_settings: dict[str, Any] = {}  # description, name, menu button, ...
        self.files: dict[str, StoredFile] = {}
        self._chats: dict[int, ChatState] = {}
        self._users: dict[int, FakeUser] = {}
        self._updates: deque[dict[str, Any]] = deque()
        self._updates_changed = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._queries: dict[str, _PendingQuery] = {}
        self._allowed_updates: frozenset[str] | None = None  # None: Telegram's default set
        self._poll_generation = 0
        self._failures: dict[str, list[_Fault]] = {}
        self._delays: dict[str, list[_Fault]] = {}
        self._resets: dict[str, list[_Fault]] = {}
        self._closing = False
        self._runner: web.AppRunner | None = None
        self._in_flight = 0  # Bot API calls being answered, long polls aside
        self._idle = asyncio.Event()
        self._idle.set()
        self._methods: dict[str, tuple[str, Callable[[dict[str, Any]], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in {
                "getMe": self._get_me,
                "getUpdates": self._get_updates,
                "sendMessage": self._send_message,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "answerCallbackQuery": self._answer_callback_query,
                "deleteMessage": self._delete_message,
                "sendChatAction": self._send_chat_action,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "getFile": self._get_file,
                "getChat": self._get_chat,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "setMyDescription": self._setting("description"),
                "getMyDescription": self._getting("description"),
                "setMyShortDescription": self._setting("short_description"),
                "getMyShortDescription": self._getting("short_description"),
                "setMyName": self._setting("name"),
                "getMyName": self._getting("name"),
                "setChatMenuButton": self._set_menu_button,
                "getChatMenuButton": self._get_menu_button,
                "close": lambda _params: True,
                "logOut": lambda _params: True,
            }.items()
        }

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on host:port (port 0 picks a free one; see :attr:`port`)."""
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        app.router.add_post("/_sandbox/{user_id}/send", self._control_send)
        app.router.add_post("/_sandbox/{user_id}/press", self._control_press)
        app.router.add_get("/_sandbox/{user_id}/messages", self._control_messages)
        # No access log: URLs carry the token and handlers see user data.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # set by a successful start()
        self.port = server.sockets[0].getsockname()[1]
        self._closing = False

    async def stop(self) -> None:
        """Release long polls and close the listener."""
        self._closing = True
        self._notify_updates()
        for query in self._queries.values():
            if not query.answered.done():
                query.answered.cancel()
        self._queries.clear()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LoopbackBotAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """PTB ``base_url``: PTB appends the token and the method."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://{self.host}:{self.port}/file/bot"

    def settings_for(self, data_dir: Path, **overrides: Any) -> Settings:
        """Settings for the real bot, in this process, to talk to this server."""
        return Settings(
            token=Secret(self.token),
            data_dir=Path(data_dir),
            base_url=self.base_url,
            base_file_url=self.base_file_url,
            poll_timeout=1,
            **overrides,
        )

    def env_for(self, data_dir: Path, **extra: str) -> dict[str, str]:
        """Environment for `python -m bot run` as a child process talking to this server (the
        caller's own bot settings are left out so they cannot leak in)."""
        own = ("TELEGRAM_", "WEBHOOK_", "COACH_")
        env = {k: v for k, v in os.environ.items() if not k.startswith(own)}
        env.update(
            TELEGRAM_BOT_TOKEN=self.token,
            TELEGRAM_BASE_URL=self.base_url,
            COACH_DATA_DIR=str(data_dir),
            COACH_POLL_TIMEOUT="1",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    # -- users and inspection ------------------------------------------------------------------

    def user(self, user_id: int, first_name: str = "Test", language_code: str = "en") -> FakeUser:
        """The fake user ``user_id`` (created on first use; the same handle afterwards)."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        user = {
            "id": user_id, "is_bot": False, "first_name": first_name,
            "language_code": language_code,
        }  # fmt: skip
        chat = ChatState(
            chat_id=user_id,
            user=user,
            chat={"id": user_id, "type": "private", "first_name": first_name},
        )
        self._chats[user_id] = chat
        fake = self._users[user_id] = FakeUser(self, chat)
        return fake

    @property
    def users(self) -> list[FakeUser]:
        return list(self._users.values())

    @property
    def commands(self) -> list[dict[str, str]]:
        """Commands registered by setMyCommands for the default scope and no language."""
        return self.commands_by_scope.get(('{"type": "default"}', ""), [])

    @property
    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot (getUpdates offset)."""
        return len(self._updates)

    def count(self, method: str) -> int:
        """How many times ``method`` was called (including failed and faulted calls)."""
        return self.call_counts[method]

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """Parameters of every call to ``method``, oldest first."""
        return [params for name, params in self.calls if name == method]

    def reset_calls(self) -> None:
        self.calls.clear()
        self.call_counts.clear()

    async def wait_until_delivered(self, timeout: float = 5.0) -> None:
        """Wait until the bot has confirmed every queued update (fetched it, not handled it:
        for "handled", see :meth:`FakeUser.settle`)."""
        async with asyncio.timeout(timeout):
            while self._updates:
                await self._updates_changed.wait()

    async def until_idle(self, timeout: float = 10.0) -> None:
        """Wait until no Bot API call is being answered (long polls aside): every call the bot
        has made so far is performed and answered, a delayed answer included. Use it after the
        bot's side is known to be done (e.g. a send function returned) before counting calls."""
        async with asyncio.timeout(timeout):
            await self._idle.wait()

    # -- fault injection -------------------------------------------------------------------

    def inject_failure(
        self,
        method: str,
        *,
        error_code: int = 429,
        description: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
        chat_id: int | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` ("*" = any) fail with ``error_code``.

        ``times=None`` fails until :meth:`clear_faults`. ``chat_id`` limits it to one chat.
        """
        parameters = None
        if error_code == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None:
            parameters = {"retry_after": retry_after}
        if description is None:
            description = {
                400: "Bad Request",
                401: "Unauthorized",
                403: BLOCKED,
                409: "Conflict: terminated by other getUpdates request",
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(error_code, "Error")
        fault = _Fault(times, chat_id, error_code, description, parameters)
        self._failures.setdefault(method.lower(), []).append(fault)

    def inject_delay(
        self,
        method: str,
        seconds: float,
        times: int | None = 1,
        *,
        chat_id: int | None = None,
        after: bool = False,
    ) -> None:
        """Respond ``seconds`` late. ``after=True`` performs the call first (a lost reply)."""
        fault = _Fault(times, chat_id, seconds=seconds, after=after)
        self._delays.setdefault(method.lower(), []).append(fault)

    def inject_reset(
        self, method: str, times: int | None = 1, *, chat_id: int | None = None
    ) -> None:
        """Drop the connection without any response (the call is not performed)."""
        self._resets.setdefault(method.lower(), []).append(_Fault(times, chat_id))

    def clear_faults(self) -> None:
        self._failures.clear()
        self._delays.clear()
        self._resets.clear()

    @staticmethod
    def _take_fault(
        faults: dict[str, list[_Fault]], method: str, chat_id: int | None
    ) -> _Fault | None:
        for key in (method.lower(), "*"):
            rules = faults.get(key)
            if not rules:
                continue
            for index, rule in enumerate(rules):
                if rule.chat_id is not None and rule.chat_id != chat_id:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        del rules[index]
                return rule
        return None

    # -- used by FakeUser ------------------------------------------------------------------

    def enqueue_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Queue an update of ``kind`` ("message", ...); None if allowed_updates filters it."""
        allowed = self._allowed_updates
        if (kind not in allowed) if allowed is not None else (kind in _DEFAULT_EXCLUDED_UPDATES):
            return None
        update = {"update_id": next(self._update_ids), kind: payload}
        self._updates.append(update)
        self._notify_updates()
        return update

    def add_user_message(
        self, chat: ChatState, text: str, extra: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Store a message from the user in ``chat`` and return its Message dict."""
        mid = chat.take_message_id()
        msg = {"message_id": mid, "from": chat.user, "chat": chat.chat, "date": self._now()}
        msg["text"] = text
        if extra:
            msg.update(extra)
        chat.messages[mid] = StoredMessage(mid, msg, from_bot=False, raw_text=text)
        return msg

    def add_callback_query(
        self, chat: ChatState, stored: StoredMessage, data: str
    ) -> tuple[str, asyncio.Future[CallbackAnswer]]:
        """Queue a callback_query from a button on ``stored``; the future gets the answer."""
        query_id = str(4_000_000_000_000_000 + next(self._query_ids))
        payload = {
            "id": query_id,
            "from": chat.user,
            "message": dict(stored.data),
            "chat_instance": str(-chat.chat_id),
            "data": data,
        }
        if self.enqueue_update("callback_query", payload) is None:
            raise AssertionError("the bot's allowed_updates exclude 'callback_query'")
        future: asyncio.Future[CallbackAnswer] = asyncio.get_running_loop().create_future()
        self._queries[query_id] = _PendingQuery(chat, stored.message_id, data, future)
        return query_id, future

    def set_blocked(self, chat: ChatState, blocked: bool, *, notify: bool = True) -> None:
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        if notify:
            old, new = ("member", "kicked") if blocked else ("kicked", "member")
            self.enqueue_update(
                "my_chat_member",
                {
                    "chat": chat.chat,
                    "from": chat.user,
                    "date": self._now(),
                    "old_chat_member": self._member(old),
                    "new_chat_member": self._member(new),
                },
            )

    def snapshot(
        self, m: StoredMessage, *, is_edit: bool | None = None, is_deleted: bool = False
    ) -> BotMessage:
        """An immutable view of ``m`` as it is now."""
        data = m.data
        keyboard = (data.get("reply_markup") or {}).get("inline_keyboard", ())
        buttons = [[b["text"] for b in row] for row in keyboard]
        buttons_flat = [b for row in keyboard for b in row]
        callback_data = {
            b["text"]: b["callback_data"] for b in buttons_flat if "callback_data" in b
        }
        urls = {b["text"]: b["url"] for b in buttons_flat if "url" in b}
        caption = data.get("caption") if m.kind != "text" else None
        f = m.file
        return BotMessage(
            message_id=m.message_id,
            kind=m.kind,
            text=data.get("text", "") if m.kind == "text" else (caption or ""),
            raw_text=m.raw_text,
            parse_mode=m.parse_mode,
            buttons=buttons,
            callback_data=callback_data,
            urls=urls,
            reply_keyboard=m.reply_keyboard,
            removes_reply_keyboard=m.removes_reply_keyboard,
            is_edit=("edit_date" in data) if is_edit is None else is_edit,
            is_deleted=is_deleted,
            from_bot=m.from_bot,
            caption=caption,
            file_bytes=f.content if f else None,
            filename=f.filename if f else None,
            mime_type=f.mime_type if f else None,
            date=data.get("date", 0),
            raw=dict(data),
        )

    # -- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        counted = request.match_info["method"].lower() != "getupdates"
        if counted:
            self._in_flight += 1
            self._idle.clear()
        try:
            return await self._answer(request)
        finally:
            if counted:
                self._in_flight -= 1
                if self._in_flight == 0:
                    self._idle.set()

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._reply_error(ApiError(401, "Unauthorized"))
        method = request.match_info["method"]
        entry = self._methods.get(method.lower())
        name = entry[0] if entry else method
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            return self._reply_error(exc)
        if self.record_calls:
            self.calls.append((name, params))
        self.call_counts[name] += 1
        if entry is None:
            return self._reply_error(_bad("method not found"))

        chat_id = params.get("chat_id")
        chat_id = chat_id if isinstance(chat_id, int) else None
        delay = self._take_fault(self._delays, name, chat_id)
        if delay is not None and not delay.after:
            await asyncio.sleep(delay.seconds)
        if self._take_fault(self._resets, name, chat_id) is not None:
            return self._drop_connection(request)
        failure = self._take_fault(self._failures, name, chat_id)
        if failure is not None:
            exc = ApiError(failure.error_code, failure.description, failure.parameters)
            return self._reply_error(exc)

        try:
            result = entry[1](params)
            if inspect.isawaitable(result):
                result = await result
        except ApiError as exc:
            response = self._reply_error(exc)
        else:
            response = self._reply({"ok": True, "result": result})
        if delay is not None and delay.after:
            await asyncio.sleep(delay.seconds)
        return response

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = {k: _decode_form_value(k, v) for k, v in request.query.items()}
        if not request.body_exists:
            return params
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = json.loads(await request.read() or b"{}")
            except ValueError:
                raise _bad("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise _bad("JSON object expected as request body")
            for key, value in body.items():
                if key in _OBJECT_PARAMS and isinstance(value, str):
                    with contextlib.suppress(ValueError):
                        value = json.loads(value)
                params[key] = value
        else:
            # urlencoded and multipart; aiohttp spools file parts for us.
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = UploadedFile(
                        value.filename, value.file.read(), value.content_type
                    )
                else:
                    params[key] = _decode_form_value(key, str(value))
        return params

    @staticmethod
    def _reply(payload: dict[str, Any], status: int = 200) -> web.Response:
        body = json.dumps(payload, ensure_ascii=False).encode()
        return web.Response(body=body, status=status, content_type="application/json")

    def _reply_error(self, exc: ApiError) -> web.Response:
        payload: dict[str, Any] = {
            "ok": False, "error_code": exc.code, "description": exc.description,
        }  # fmt: skip
        if exc.parameters:
            payload["parameters"] = exc.parameters
        return self._reply(payload, status=exc.code)

    @staticmethod
    def _drop_connection(request: web.Request) -> web.StreamResponse:
        # Closing the socket before any byte is written looks like a reset to the client.
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return self._reply_error(ApiError(401, "Unauthorized"))
        path = request.match_info["path"]
        for stored in self.files.values():  # few files; downloads are rare
            if stored.file_path == path and stored.content is not None:
                ctype = stored.mime_type or "application/octet-stream"
                return web.Response(body=stored.content, content_type=ctype)
        return self._reply_error(ApiError(404, "Not Found"))

    # -- control API for a standalone server (loopback only) -------------------------------

    async def _control_send(self, request: web.Request) -> web.Response:
        body = await request.json()
        msg = await self.user(int(request.match_info["user_id"])).send(str(body["text"]))
        return self._reply({"ok": True, "result": msg})

    async def _control_press(self, request: web.Request) -> web.Response:
        body = await request.json()
        user = self.user(int(request.match_info["user_id"]))
        try:
            answer = await user.press(str(body["label"]))
        except (AssertionError, TimeoutError) as exc:
            return self._reply({"ok": False, "error_code": 400, "description": str(exc)}, 400)
        return self._reply({"ok": True, "result": answer})

    async def _control_messages(self, request: web.Request) -> web.Response:
        user = self.user(int(request.match_info["user_id"]))
        result = [
            {"message_id": m.message_id, "kind": m.kind, "text": m.text, "buttons": m.buttons}
            for m in user.messages
        ]
        return self._reply({"ok": True, "result": result})

    # -- helpers ---------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self._clock())

    def _notify_updates(self) -> None:
        self._updates_changed.set()
        self._updates_changed = asyncio.Event()

    def _member(self, status: str) -> dict[str, Any]:
        member: dict[str, Any] = {"user": self.bot_user, "status": status}
        if status == "kicked":
            member["until_date"] = 0
        return member

    def _chat_for(self, params: dict[str, Any]) -> ChatState:
        """The target private chat of a bot action; 400 if unknown, 403 if blocked."""
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise _bad("chat_id is empty")
        try:
            chat = self._chats.get(int(raw))
        except (TypeError, ValueError):
            chat = None
        if chat is None:
            raise _bad("chat not found")
        if chat.blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _record(self, chat: ChatState, m: StoredMessage, *, is_edit: bool = False) -> None:
        chat.events.append(self.snapshot(m, is_edit=is_edit))
        chat.notify()

    def _text_and_markup(
        self, params: dict[str, Any], key: str, limit: int, *, required: bool
    ) -> tuple[str, str, list[dict[str, Any]], tuple[Any, Any, bool]]:
        raw = params.get(key)
        raw = "" if raw is None else str(raw)
        parse_mode = params.get("parse_mode") or None
        entities = params.get("entities" if key == "text" else "caption_entities")
        plain, ents = parse_text(raw, parse_mode, entities)
        if required and not plain.strip():
            raise _bad("message text is empty")
        if len(plain) > limit:
            raise _bad("message is too long" if key == "text" else "message caption is too long")
        return raw, plain, ents, _parse_markup(params.get("reply_markup"))

    def _new_bot_message(
        self,
        chat: ChatState,
        fields: dict[str, Any],
        markup: tuple[Any, Any, bool],
        *,
        kind: str,
        raw_text: str,
        parse_mode: str | None,
        file: StoredFile | None = None,
    ) -> dict[str, Any]:
        inline, reply_kb, removes = markup
        mid = chat.take_message_id()
        data = {"message_id": mid, "from": self.bot_user, "chat": chat.chat, "date": self._now()}
        data.update(fields)
        if inline is not None:
            data["reply_markup"] = inline
        if reply_kb is not None:
            chat.reply_keyboard = reply_kb
        elif removes:
            chat.reply_keyboard = None
        stored = StoredMessage(
            mid, data, from_bot=True, kind=kind, raw_text=raw_text, parse_mode=parse_mode,
            reply_keyboard=reply_kb, removes_reply_keyboard=removes, file=file,
        )  # fmt: skip
        chat.messages[mid] = stored
        self._record(chat, stored)
        return data

    def _bot_message(self, chat: ChatState, params: dict[str, Any], what: str) -> StoredMessage:
        if params.get("inline_message_id"):
            raise _bad(f"message to {what} not found")  # inline messages are not simulated
        mid = _as_int(params.get("message_id"), "message_id")
        stored = chat.messages.get(mid)
        if stored is None:
            raise _bad(f"message to {what} not found")
        if what == "edit" and not stored.from_bot:
            raise _bad("message can't be edited")
        return stored

    # -- methods ---------------------------------------------------------------------------

    def _get_me(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = _as_int(params.get("offset"), "offset", 0)
        limit = min(max(_as_int(params.get("limit"), "limit", 100), 1), 100)
        try:
            timeout = max(float(params.get("timeout") or 0), 0.0)
        except (TypeError, ValueError):
            raise _bad("invalid timeout specified") from None
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) if allowed else None
        self._confirm(offset)

        # A newer getUpdates terminates an older long poll, like Telegram does.
        self._poll_generation += 1
        generation = self._poll_generation
        self._notify_updates()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not self._updates and not self._closing:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            waiter = self._updates_changed
            try:
                async with asyncio.timeout(remaining):
                    await waiter.wait()
            except TimeoutError:
                break
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; "
                    "make sure that only one bot instance is running",
                )
        return list(itertools.islice(self._updates, limit))

    def _confirm(self, offset: int) -> None:
        updates = self._updates
        before = len(updates)
        if offset < 0:
            while len(updates) > -offset:
                updates.popleft()
        elif offset > 0:
            while updates and updates[0]["update_id"] < offset:
                updates.popleft()
        if len(updates) != before:
            self._notify_updates()

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for(params)
        raw, plain, entities, markup = self._text_and_markup(
            params, "text", MAX_TEXT_LENGTH, required=True
        )
        fields: dict[str, Any] = {"text": plain}
        if entities:
            fields["entities"] = entities
        return self._new_bot_message(
            chat, fields, markup, kind="text", raw_text=raw, parse_mode=params.get("parse_mode")
        )

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for(params)
        stored = self._bot_message(chat, params, "edit")
        if stored.kind != "text":
            raise _bad("there is no text in the message to edit")
        raw, plain, entities, markup = self._text_and_markup(
            params, "text", MAX_TEXT_LENGTH, required=True
        )
        if markup[1] is not None:
            raise _bad("inline keyboard expected")
        changes = {"text": plain, "entities": entities, "reply_markup": markup[0]}
        return self._apply_edit(chat, stored, changes, raw, params.get("parse_mode"))

    def _edit_message_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for(params)
        stored = self._bot_message(chat, params, "edit")
        if stored.kind == "text":
            raise _bad("there is no caption in the message to edit")
        raw, plain, entities, markup = self._text_and_markup(
            params, "caption", MAX_CAPTION_LENGTH, required=False
        )
        if markup[1] is not None:
            raise _bad("inline keyboard expected")
        changes = {"caption": plain, "caption_entities": entities, "reply_markup": markup[0]}
        return self._apply_edit(chat, stored, changes, raw, params.get("parse_mode"))

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self._chat_for(params)
        stored = self._bot_message(chat, params, "edit")
        markup = _parse_markup(params.get("reply_markup"))
        if markup[1] is not None:
            raise _bad("inline keyboard expected")
        return self._apply_edit(chat, stored, {"reply_markup": markup[0]}, None, None)

    def _apply_edit(
        self,
        chat: ChatState,
        stored: StoredMessage,
        changes: dict[str, Any],
        raw_text: str | None,
        parse_mode: str | None,
    ) -> dict[str, Any]:
        """Apply an edit; omitted markup removes the inline keyboard, as on Telegram."""
        old = stored.data
        if all(_same(old.get(key), value, key) for key, value in changes.items()):
            raise _bad(NOT_MODIFIED.removeprefix("Bad Request: "))
        data = dict(old)
        for key, value in changes.items():
            if value:
                data[key] = value
            else:
                data.pop(key, None)
        data["edit_date"] = self._now()
        stored.data = data
        if raw_text is not None:
            stored.raw_text = raw_text
            stored.parse_mode = parse_mode
        self._record(chat, stored, is_edit=True)
        return data

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat = self._chat_for(params)
        stored = self._bot_message(chat, params, "delete")
        del chat.messages[stored.message_id]
        chat.events.append(self.snapshot(stored, is_edit=False, is_deleted=True))
        chat.notify()
        return True

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self._queries.pop(str(params.get("callback_query_id", "")), None)
        if query is None:
            raise _bad(QUERY_INVALID.removeprefix("Bad Request: "))
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            self._queries[str(params["callback_query_id"])] = query  # still answerable
            raise _bad("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=str(params["callback_query_id"]),
            data=query.data,
            message_id=query.message_id,
            text=str(text) if text else None,
            show_alert=bool(params.get("show_alert", False)),
            url=params.get("url"),
        )
        query.chat.callback_answers.append(answer)
        if not query.answered.done():
            query.answered.set_result(answer)
        return True

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        chat = self._chat_for(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad("wrong parameter action in request")
        chat.chat_actions.append(action)
        return True

    def _store_file(
        self, params: dict[str, Any], key: str, *, image: bool
    ) -> tuple[StoredFile, tuple[int, int] | None]:
        value = params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            value = params.get(value.removeprefix("attach://"))
        if isinstance(value, UploadedFile):
            if not value.content:
                raise _bad("file must be non-empty")
            size = _image_size(value.content) if image else None
            if image and size is None:
                raise _bad("IMAGE_PROCESS_FAILED")
            n = next(self._file_ids)
            filename = value.filename or ("photo.jpg" if image else "document")
            mime = value.content_type
            if not mime or mime == "application/octet-stream":
                mime = (
                    mimetypes.guess_type(filename)[0]
                    or sniff_mime_type(value.content)
                    or "application/octet-stream"
                )
            ext = mimetypes.guess_extension(mime) or ""
            folder = "photos" if image else "documents"
            stored = StoredFile(
                file_id=f"LB{n:06d}{'P' if image else 'D'}-loopback-file",
                file_unique_id=f"LBU{n:06d}",
                content=value.content,
                filename=filename,
                mime_type=mime,
                file_path=f"{folder}/file_{n}{ext}",
            )
            self.files[stored.file_id] = stored
            return stored, size
        if isinstance(value, str | int) and str(value) in self.files:
            stored = self.files[str(value)]
            return stored, _image_size(stored.content or b"") or (800, 600)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            n = next(self._file_ids)
            stored = StoredFile(
                f"LB{n:06d}U-loopback-file", f"LBU{n:06d}", None,
                value.rsplit("/", 1)[-1] or None, None, f"urls/file_{n}", url=value,
            )  # fmt: skip
            self.files[stored.file_id] = stored
            return stored, (800, 600)
        if value is None or value == "":
            raise _bad(f"there is no {key} in the request")
        raise _bad("wrong file identifier/HTTP URL specified")

    def _send_media(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        chat = self._chat_for(params)
        raw, plain, entities, markup = self._text_and_markup(
            params, "caption", MAX_CAPTION_LENGTH, required=False
        )
        stored, size = self._store_file(params, kind, image=kind == "photo")
        file_size = len(stored.content) if stored.content is not None else 0
        base = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        fields: dict[str, Any]
        if kind == "photo":
            width, height = size or (800, 600)
            fields = {"photo": [{**base, "width": width, "height": height, "file_size": file_size}]}
        else:
            document = {**base, "file_size": file_size}
            if stored.filename:
                document["file_name"] = stored.filename
            if stored.mime_type:
                document["mime_type"] = stored.mime_type
            fields = {"document": document}
        if plain:
            fields["caption"] = plain
        if entities:
            fields["caption_entities"] = entities
        return self._new_bot_message(
            chat, fields, markup, kind=kind, raw_text=raw, parse_mode=params.get("parse_mode"),
            file=stored,
        )  # fmt: skip

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(params, "photo")

    def _send_document(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._send_media(params, "document")

    def _get_file(self, params: dict[str, Any]) -> dict[str, Any]:
        stored = self.files.get(str(params.get("file_id", "")))
        if stored is None:
            raise _bad("invalid file_id")
        size = len(stored.content) if stored.content is not None else 0
        return {
            "file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
            "file_size": size, "file_path": stored.file_path,
        }  # fmt: skip

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        raw = params.get("chat_id")
        chat = self._chats.get(raw) if isinstance(raw, int) else None
        if chat is None:
            raise _bad("chat not found")
        return {
            **chat.chat,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                "premium_subscription": False,
            },
        }  # fmt: skip

    @staticmethod
    def _scope_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict) or "type" not in scope:
            raise _bad("can't parse BotCommandScope JSON object")
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad("can't parse commands JSON object")
        clean: list[dict[str, str]] = []
        for command in commands:
            if not isinstance(command, dict):
                raise _bad("can't parse BotCommand JSON object")
            name, description = command.get("command"), command.get("description")
            if not isinstance(name, str) or not _COMMAND_NAME_RE.fullmatch(name):
                raise _bad("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        self.commands_by_scope[self._scope_key(params)] = clean
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, str]]:
        return self.commands_by_scope.get(self._scope_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        self.commands_by_scope.pop(self._scope_key(params), None)
        return True

    def _set_webhook(self, params: dict[str, Any]) -> bool:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        return True

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
            self._notify_updates()
        return True

    def _get_webhook_info(self, _params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _setting(self, key: str) -> Callable[[dict[str, Any]], bool]:
        def handler(params: dict[str, Any]) -> bool:
            self.bot_settings[key] = params.get(key) or ""
            return True

        return handler

    def _getting(self, key: str) -> Callable[[dict[str, Any]], dict[str, str]]:
        return lambda _params: {key: self.bot_settings.get(key, "")}

    def _set_menu_button(self, params: dict[str, Any]) -> bool:
        self.bot_settings["menu_button"] = params.get("menu_button") or {"type": "default"}
        return True

    def _get_menu_button(self, _params: dict[str, Any]) -> dict[str, Any]:
        return self.bot_settings.get("menu_button", {"type": "commands"})


# -- standalone ---------------------------------------------------------------------------------


async def serve_forever(
    host: str = "127.0.0.1", port: int = 8081, token: str = DEFAULT_TOKEN
) -> None:
    """Run a loopback server until SIGINT/SIGTERM."""
    server = LoopbackBotAPI(token, host=host, port=port)
    await server.start()
    print(f"loopback Bot API: base_url={server.base_url} base_file_url={server.base_file_url}")
    print(f'fake users: POST {server.base_url[:-4]}/_sandbox/<user_id>/send {{"text": ...}}')
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Loopback Telegram Bot API for offline runs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    args = parser.parse_args(argv)
    asyncio.run(serve_forever(args.host, args.port, args.token))


if __name__ == "__main__":
    main()
