"""The loopback Bot API over raw HTTP: shapes, limits and error texts as Telegram gives them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from bot.sandbox import FakeUser, LoopbackBotAPI

PNG_1X1 = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
KEYBOARD = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}


@pytest.fixture
async def server() -> AsyncIterator[LoopbackBotAPI]:
    async with LoopbackBotAPI() as api:
        yield api


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


class Api:
    """Calls methods the way PTB does: form fields, objects as JSON strings."""

    def __init__(self, server: LoopbackBotAPI, http: aiohttp.ClientSession) -> None:
        self.url = f"{server.base_url}{server.token}"
        self.http = http

    async def call(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        async with self.http.post(f"{self.url}/{method}", data=form) as resp:
            return resp.status, await resp.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self.call(method, **params)
        assert status == 200 and body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self.call(method, **params)
        assert not body["ok"] and body["error_code"] == status, body
        return status, body["description"]


@pytest.fixture
def api(server: LoopbackBotAPI, http: aiohttp.ClientSession) -> Api:
    return Api(server, http)


@pytest.fixture
def user(server: LoopbackBotAPI) -> FakeUser:
    return server.user(42, first_name="Ana")


async def test_get_me_and_urls(server: LoopbackBotAPI, api: Api) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}/bot"
    assert server.base_file_url == f"http://127.0.0.1:{server.port}/file/bot"
    me = await api.ok("getMe")
    assert me["is_bot"] and me["id"] == 123456
    assert me["username"] == "twitch_coach_test_bot"


async def test_wrong_token_is_401(server: LoopbackBotAPI, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{server.base_url}654321:WRONG/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_unknown_method_is_400(api: Api) -> None:
    assert await api.error("sendTelepathy") == (400, "Bad Request: method not found")


async def test_json_body_and_get_query_are_accepted(
    server: LoopbackBotAPI, http: aiohttp.ClientSession, user: FakeUser
) -> None:
    url = f"{server.base_url}{server.token}"
    payload = {"chat_id": 42, "text": "json", "reply_markup": json.dumps(KEYBOARD)}
    async with http.post(f"{url}/sendMessage", json=payload) as resp:
        assert (await resp.json())["result"]["reply_markup"] == KEYBOARD
    async with http.get(f"{url}/sendMessage", params={"chat_id": "42", "text": "get"}) as resp:
        assert (await resp.json())["result"]["text"] == "get"
    assert [m.text for m in user.messages] == ["json", "get"]


async def test_get_updates_offset_confirms_and_limit(api: Api, user: FakeUser) -> None:
    for text in ("one", "two", "three"):
        await user.send(text)
    updates = await api.ok("getUpdates", limit=2)
    assert [u["message"]["text"] for u in updates] == ["one", "two"]
    first = updates[0]["update_id"]
    # Without a higher offset nothing is confirmed.
    assert len(await api.ok("getUpdates")) == 3
    rest = await api.ok("getUpdates", offset=first + 2)
    assert [u["message"]["text"] for u in rest] == ["three"]
    assert await api.ok("getUpdates", offset=first + 3) == []
    # Confirmed updates are gone for good, even with a lower offset.
    assert await api.ok("getUpdates", offset=first) == []


async def test_get_updates_long_poll_returns_on_arrival(api: Api, user: FakeUser) -> None:
    started = time.monotonic()
    assert await api.ok("getUpdates", timeout=0.3) == []
    assert time.monotonic() - started >= 0.25

    async def later() -> None:
        await asyncio.sleep(0.1)
        await user.send("wake up")

    started = time.monotonic()
    task = asyncio.create_task(later())
    updates = await api.ok("getUpdates", timeout=5)
    await task
    assert time.monotonic() - started < 1.0
    assert updates[0]["message"]["text"] == "wake up"


async def test_user_message_shape_and_commands(api: Api, user: FakeUser) -> None:
    await user.send("/start@twitch_coach_test_bot hello")
    (update,) = await api.ok("getUpdates", allowed_updates=["message", "callback_query"])
    msg = update["message"]
    assert msg["chat"] == {"id": 42, "type": "private", "first_name": "Ana"}
    assert msg["from"]["id"] == 42 and not msg["from"]["is_bot"]
    assert isinstance(msg["date"], int)
    assert msg["entities"] == [{"type": "bot_command", "offset": 0, "length": 28}]


async def test_message_ids_are_shared_per_chat(
    server: LoopbackBotAPI, api: Api, user: FakeUser
) -> None:
    sent = await user.send("hi")
    reply = await api.ok("sendMessage", chat_id=42, text="hello")
    other = await api.ok("sendMessage", chat_id=server.user(7).chat_id, text="x")
    assert reply["message_id"] == sent["message_id"] + 1
    assert other["message_id"] == 1
    assert reply["from"]["is_bot"] and reply["chat"]["id"] == 42


async def test_send_message_validation(api: Api, user: FakeUser) -> None:
    assert await api.error("sendMessage", chat_id=42, text="") == (
        400,
        "Bad Request: message text is empty",
    )
    assert await api.error("sendMessage", chat_id=42, text="x" * 4097) == (
        400,
        "Bad Request: message is too long",
    )
    await api.ok("sendMessage", chat_id=42, text="x" * 4096)
    long_data = {"inline_keyboard": [[{"text": "A", "callback_data": "d" * 65}]]}
    assert await api.error("sendMessage", chat_id=42, text="a", reply_markup=long_data) == (
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert await api.error("sendMessage", chat_id=999, text="a") == (
        400,
        "Bad Request: chat not found",
    )


async def test_html_is_parsed_like_telegram(api: Api, user: FakeUser) -> None:
    sent = await api.ok(
        "sendMessage", chat_id=42, text="<b>Pain</b> 3/10 &lt;3 ✨<i>ok</i>", parse_mode="HTML"
    )
    assert sent["text"] == "Pain 3/10 <3 ✨ok"
    assert sent["entities"] == [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 14, "length": 2},  # ✨ is one UTF-16 unit
    ]
    snap = await user.next_message()
    assert snap.raw_text.startswith("<b>Pain</b>") and snap.text == "Pain 3/10 <3 ✨ok"
    _, description = await api.error("sendMessage", chat_id=42, text="a <3 b", parse_mode="HTML")
    assert description.startswith("Bad Request: can't parse entities")
    _, description = await api.error("sendMessage", chat_id=42, text="<br>", parse_mode="HTML")
    assert 'Unsupported start tag "br"' in description
    _, description = await api.error("sendMessage", chat_id=42, text="<b>x", parse_mode="HTML")
    assert "Can't find end tag" in description


async def test_edit_text_and_not_modified(api: Api, user: FakeUser) -> None:
    sent = await api.ok("sendMessage", chat_id=42, text="Hello", reply_markup=KEYBOARD)
    mid = sent["message_id"]
    status, description = await api.error(
        "editMessageText", chat_id=42, message_id=mid, text="Hello", reply_markup=KEYBOARD
    )
    assert status == 400
    assert description.startswith("Bad Request: message is not modified: specified new message")
    edited = await api.ok("editMessageText", chat_id=42, message_id=mid, text="Bye")
    assert "reply_markup" not in edited  # no markup in the edit removes the keyboard
    assert await api.error("editMessageText", chat_id=42, message_id=999, text="x") == (
        400,
        "Bad Request: message to edit not found",
    )
    assert (await user.next_message()).buttons == [["Yes"]]
    after = await user.next_message()
    assert after.is_edit and after.text == "Bye" and after.buttons == []


async def test_edit_markup_and_delete(api: Api, user: FakeUser) -> None:
    mid = (await api.ok("sendMessage", chat_id=42, text="Q", reply_markup=KEYBOARD))["message_id"]
    status, description = await api.error(
        "editMessageReplyMarkup", chat_id=42, message_id=mid, reply_markup=KEYBOARD
    )
    assert status == 400 and "not modified" in description
    await api.ok("editMessageReplyMarkup", chat_id=42, message_id=mid)
    assert user.last_message is not None and user.last_message.buttons == []
    assert await api.ok("deleteMessage", chat_id=42, message_id=mid) is True
    assert await api.error("deleteMessage", chat_id=42, message_id=mid) == (
        400,
        "Bad Request: message to delete not found",
    )
    assert user.messages == []
    kinds = [(e.is_edit, e.is_deleted) for e in user.events]
    assert kinds == [(False, False), (True, False), (False, True)]


async def test_injected_429_shape_and_counting(server: LoopbackBotAPI, api: Api) -> None:
    server.user(42)
    server.inject_failure("sendMessage", retry_after=3)
    status, body = await api.call("sendMessage", chat_id=42, text="hi")
    assert status == 429
    assert body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    await api.ok("sendMessage", chat_id=42, text="hi")  # times=1: the next call works
    assert server.count("sendMessage") == 2
    assert [params["text"] for params in server.calls_to("sendMessage")] == ["hi", "hi"]


async def test_failure_for_one_chat_only(server: LoopbackBotAPI, api: Api) -> None:
    server.user(1)
    server.user(2)
    server.inject_failure("sendMessage", error_code=500, chat_id=2, times=None)
    await api.ok("sendMessage", chat_id=1, text="fine")
    assert await api.error("sendMessage", chat_id=2, text="no") == (500, "Internal Server Error")
    assert await api.error("sendMessage", chat_id=2, text="no") == (500, "Internal Server Error")
    server.clear_faults()
    await api.ok("sendMessage", chat_id=2, text="fine again")


async def test_delay_and_reset(server: LoopbackBotAPI, api: Api, user: FakeUser) -> None:
    server.inject_delay("sendMessage", 0.2)
    started = time.monotonic()
    await api.ok("sendMessage", chat_id=42, text="slow")
    assert time.monotonic() - started >= 0.2
    server.inject_reset("sendMessage")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await api.call("sendMessage", chat_id=42, text="lost")
    await api.ok("sendMessage", chat_id=42, text="after")
    assert [m.text for m in user.messages] == ["slow", "after"]


async def test_blocked_user_gets_403(api: Api, user: FakeUser) -> None:
    user.block(notify=False)
    assert await api.error("sendMessage", chat_id=42, text="hi") == (
        403,
        "Forbidden: bot was blocked by the user",
    )
    user.unblock(notify=False)
    await api.ok("sendMessage", chat_id=42, text="hi")


async def test_send_document_multipart(
    server: LoopbackBotAPI, http: aiohttp.ClientSession, api: Api, user: FakeUser
) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", "42")
    form.add_field("caption", "Your export")
    form.add_field("document", b"date,pain\n", filename="twitches.csv", content_type="text/csv")
    async with http.post(f"{server.base_url}{server.token}/sendDocument", data=form) as resp:
        result = (await resp.json())["result"]
    assert result["document"]["file_name"] == "twitches.csv"
    assert result["document"]["mime_type"] == "text/csv"
    assert result["caption"] == "Your export"
    (doc,) = user.documents
    assert doc.kind == "document" and doc.file_bytes == b"date,pain\n"
    assert doc.filename == "twitches.csv" and doc.text == "Your export"
    info = await api.ok("getFile", file_id=result["document"]["file_id"])
    async with http.get(f"{server.base_file_url}{server.token}/{info['file_path']}") as resp:
        assert await resp.read() == b"date,pain\n"


async def test_send_photo_multipart(
    server: LoopbackBotAPI, http: aiohttp.ClientSession, user: FakeUser
) -> None:
    url = f"{server.base_url}{server.token}/sendPhoto"
    form = aiohttp.FormData()
    form.add_field("chat_id", "42")
    form.add_field("photo", PNG_1X1, filename="chart.png", content_type="image/png")
    async with http.post(url, data=form) as resp:
        photo = (await resp.json())["result"]["photo"][0]
    assert (photo["width"], photo["height"]) == (1, 1)
    assert user.photos[0].file_bytes == PNG_1X1
    form = aiohttp.FormData()
    form.add_field("chat_id", "42")
    form.add_field("photo", b"not an image", filename="x.png", content_type="image/png")
    async with http.post(url, data=form) as resp:
        assert resp.status == 400


async def test_press_and_answer_callback(api: Api, user: FakeUser) -> None:
    await api.ok("sendMessage", chat_id=42, text="Q", reply_markup=KEYBOARD)
    press = asyncio.create_task(user.press("Yes"))
    (update,) = await api.ok("getUpdates", timeout=1)
    query = update["callback_query"]
    assert query["data"] == "y" and query["message"]["text"] == "Q"
    assert await api.ok("answerCallbackQuery", callback_query_id=query["id"], text="Noted")
    assert await press == "Noted"
    _, description = await api.error("answerCallbackQuery", callback_query_id=query["id"])
    assert "query ID is invalid" in description
    assert [a.text for a in user.callback_answers] == ["Noted"]


async def test_press_unknown_label_lists_buttons(api: Api, user: FakeUser) -> None:
    await api.ok("sendMessage", chat_id=42, text="Q", reply_markup=KEYBOARD)
    with pytest.raises(AssertionError, match="Yes"):
        await user.press("Maybe")


async def test_press_timeout_when_never_answered(user: FakeUser, api: Api) -> None:
    await api.ok("sendMessage", chat_id=42, text="Q", reply_markup=KEYBOARD)
    with pytest.raises(TimeoutError, match="did not answer"):
        await user.press("Yes", timeout=0.1)


async def test_reply_keyboard_is_remembered(api: Api, user: FakeUser) -> None:
    keyboard = {"keyboard": [["Log", "Stats"], [{"text": "Help"}]], "resize_keyboard": True}
    await api.ok("sendMessage", chat_id=42, text="Menu", reply_markup=keyboard)
    assert user.reply_keyboard == [["Log", "Stats"], ["Help"]]
    assert (await user.next_message()).reply_keyboard == [["Log", "Stats"], ["Help"]]
    await api.ok("sendMessage", chat_id=42, text="Bye", reply_markup={"remove_keyboard": True})
    assert user.reply_keyboard is None
    assert (await user.next_message()).removes_reply_keyboard


async def test_commands_and_webhook(server: LoopbackBotAPI, api: Api) -> None:
    commands = [{"command": "start", "description": "Start"}]
    assert await api.ok("setMyCommands", commands=commands)
    assert server.commands == commands
    assert await api.ok("getMyCommands") == commands
    _, description = await api.error(
        "setMyCommands", commands=[{"command": "Bad!", "description": "x"}]
    )
    assert description == "Bad Request: BOT_COMMAND_INVALID"
    assert await api.ok("deleteMyCommands")
    assert server.commands == []
    assert await api.ok("setWebhook", url="https://example.invalid/hook")
    assert (await api.ok("getWebhookInfo"))["url"] == "https://example.invalid/hook"
    status, _ = await api.error("getUpdates")
    assert status == 409
    assert await api.ok("deleteWebhook", drop_pending_updates=True)
    assert await api.ok("getUpdates") == []


async def test_chat_action_is_not_an_event(api: Api, user: FakeUser) -> None:
    assert await api.ok("sendChatAction", chat_id=42, action="typing")
    assert user.chat_actions == ["typing"]
    await user.expect_silence(0.05)


async def test_expect_silence_fails_on_unseen_message(api: Api, user: FakeUser) -> None:
    await api.ok("sendMessage", chat_id=42, text="surprise")
    with pytest.raises(AssertionError, match="surprise"):
        await user.expect_silence(0.05)


async def test_until_idle_waits_for_a_late_answer_but_not_for_long_polls(
    server: LoopbackBotAPI, api: Api, user: FakeUser
) -> None:
    await server.until_idle(timeout=1)  # nothing in flight yet
    poll = asyncio.create_task(api.ok("getUpdates", timeout=30))  # a long poll does not count
    server.inject_delay("sendMessage", 0.3, after=True)
    send = asyncio.create_task(api.ok("sendMessage", chat_id=user.chat_id, text="late"))
    while not user.events:  # performed at once, answered 0.3 s later
        await asyncio.sleep(0.01)
    performed = time.monotonic()
    await server.until_idle(timeout=5)
    assert time.monotonic() - performed >= 0.2  # it waited for the late answer
    assert (await send)["text"] == "late"
    assert not poll.done()
    poll.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await poll
