"""A bare python-telegram-bot app polling the loopback Bot API, driven by fake users."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import Forbidden
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import LoopbackBotAPI


class EchoBot:
    """Echoes text, offers a button on /start, edits the message when the button is pressed."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.membership: list[str] = []

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Log a twitch", callback_data="log:twitch")]]
        )
        await update.effective_message.reply_text(
            "<b>Hello!</b>", parse_mode="HTML", reply_markup=keyboard
        )

    async def echo(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        try:
            await update.effective_message.reply_text(f"echo: {update.effective_message.text}")
        except Forbidden as exc:
            self.errors.append(exc)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        await query.edit_message_text(f"Logged ({query.data})")
        await query.answer("Saved")

    async def export(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.effective_message.reply_document(
            b"date,pain\n2026-01-01,3\n",
            filename="twitches.csv",
            caption="<i>Your data</i>",
            parse_mode="HTML",
        )

    async def member(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        self.membership.append(update.my_chat_member.new_chat_member.status)


@asynccontextmanager
async def _run(
    server: LoopbackBotAPI, bot: EchoBot, *, limiter: bool
) -> AsyncIterator[Application]:
    builder = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(server.base_url)
        .base_file_url(server.base_file_url)
    )
    if limiter:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=1))
    app = builder.build()
    app.add_handler(CommandHandler("start", bot.start))
    app.add_handler(CommandHandler("export", bot.export))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, bot.echo))
    app.add_handler(CallbackQueryHandler(bot.button))
    app.add_handler(ChatMemberHandler(bot.member, ChatMemberHandler.MY_CHAT_MEMBER))
    await app.initialize()
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        yield app
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()


@pytest.fixture
async def server() -> AsyncIterator[LoopbackBotAPI]:
    async with LoopbackBotAPI() as api:
        yield api


@pytest.fixture
def echo_bot() -> EchoBot:
    return EchoBot()


@pytest.fixture
async def app(server: LoopbackBotAPI, echo_bot: EchoBot) -> AsyncIterator[Application]:
    async with _run(server, echo_bot, limiter=False) as application:
        yield application


async def test_echo_button_edit_and_answer(server: LoopbackBotAPI, app: Application) -> None:
    user = server.user(1001, first_name="Ana")

    await user.send("hello there")
    reply = await user.next_message()
    assert reply.text == "echo: hello there"
    assert not reply.is_edit

    await user.send("/start")
    menu = await user.next_message()
    assert menu.text == "Hello!"
    assert menu.raw_text == "<b>Hello!</b>"
    assert menu.buttons == [["Log a twitch"]]

    answer = await user.press("Log a twitch")
    assert answer == "Saved"
    edited = await user.next_message()
    assert edited.is_edit
    assert edited.message_id == menu.message_id
    assert edited.text == "Logged (log:twitch)"
    assert edited.buttons == []  # edit_message_text without markup drops the keyboard
    assert [a.text for a in user.callback_answers] == ["Saved"]
    await user.expect_silence(0.2)


async def test_unique_substring_press_and_missing_label(
    server: LoopbackBotAPI, app: Application
) -> None:
    user = server.user(1002)
    await user.send("/start")
    await user.next_message()
    assert await user.press("twitch") == "Saved"
    with pytest.raises(AssertionError, match="no inline button"):
        await user.press("Nope")


async def test_rate_limited_send_is_retried_once(
    server: LoopbackBotAPI, echo_bot: EchoBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # AIORateLimiter reads RetryAfter.retry_after; opt in to timedeltas to avoid PTB's warning.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with _run(server, echo_bot, limiter=True):
        user = server.user(1003)
        server.inject_failure("sendMessage", error_code=429, retry_after=1)
        await user.send("ping")
        reply = await user.next_message(timeout=5)
        assert reply.text == "echo: ping"
        await user.expect_silence(0.2)
        assert server.count("sendMessage") == 2  # the 429 and the retry
        assert len(user.messages) == 1


async def test_blocked_user_makes_send_raise_forbidden(
    server: LoopbackBotAPI, app: Application, echo_bot: EchoBot
) -> None:
    user = server.user(1004)
    user.block()
    await user.send("are you there?")
    await server.wait_until_delivered()
    await user.expect_silence(0.3)
    assert len(echo_bot.errors) == 1
    assert "blocked" in str(echo_bot.errors[0])
    assert echo_bot.membership == ["kicked"]

    user.unblock()
    await user.send("back")
    assert (await user.next_message()).text == "echo: back"
    assert echo_bot.membership == ["kicked", "member"]


async def test_document_upload_through_ptb(server: LoopbackBotAPI, app: Application) -> None:
    user = server.user(1005)
    await user.send("/export")
    doc = await user.next_message()
    assert doc.kind == "document"
    assert doc.filename == "twitches.csv"
    assert doc.file_bytes == b"date,pain\n2026-01-01,3\n"
    assert doc.text == "Your data" and doc.mime_type == "text/csv"
    assert user.documents == [doc]
