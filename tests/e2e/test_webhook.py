"""Webhook mode as deployed: a child process serving the webhook and /healthz on a loopback port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.sandbox import LoopbackBotAPI
from tests.conftest import Backend
from tests.e2e.harness import TOKEN
from tests.e2e.subprocess_bot import ROOT, BotProcess, bot_env, free_port

SECRET = "test-webhook-secret-0123456789"
URL = "https://bot.example.invalid/tg-hook"


def _update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": "Sam"}
    message = {
        "message_id": update_id, "from": user, "date": int(time.time()), "text": text,
        "chat": {"id": user_id, "type": "private", "first_name": "Sam"},
        "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
    }  # fmt: skip
    return {"update_id": update_id, "message": message}


@pytest.fixture
async def webhook_bot(
    loopback: LoopbackBotAPI, backend: Backend, tmp_path: Path
) -> AsyncIterator[tuple[BotProcess, int]]:
    port = free_port()
    env = bot_env(
        loopback, backend.data_dir, **backend.env(),
        WEBHOOK_URL=URL, WEBHOOK_SECRET=SECRET, WEBHOOK_LISTEN="127.0.0.1", PORT=str(port),
    )  # fmt: skip
    bot = BotProcess(env, tmp_path / "bot.log")
    await bot.start()
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):  # up to 15 s for the child to import and start
                try:
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("webhook mode did not come up")
        yield bot, port
    finally:
        await bot.kill()


async def test_secret_header_is_required(
    webhook_bot: tuple[BotProcess, int], loopback: LoopbackBotAPI, tmp_path: Path
) -> None:
    bot, port = webhook_bot
    # It registered itself with Telegram, with the secret.
    assert loopback.webhook_url == URL
    assert loopback.calls_to("setWebhook")[-1]["secret_token"] == SECRET
    user = loopback.user(77, first_name="Sam")
    hook = f"http://127.0.0.1:{port}/tg-hook"
    async with aiohttp.ClientSession() as http:
        async with http.post(hook, json=_update(1, 77, "/start")) as r:
            assert r.status == 403
        headers = {"X-Telegram-Bot-Api-Secret-Token": "wrong-secret-0123456789"}
        async with http.post(hook, json=_update(2, 77, "/start"), headers=headers) as r:
            assert r.status == 403
        await user.expect_silence(0.5)  # refused updates did nothing

        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        async with http.post(hook, data=b"not json", headers=headers) as r:
            assert r.status == 400
        async with http.post(hook, json=_update(3, 77, "/start"), headers=headers) as r:
            assert r.status == 200
    welcome = await user.next_message(timeout=10)
    assert "Fibro Twitch Coach" in welcome.text

    env = bot.env
    health = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "health"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert health.returncode == 0, health.stdout + health.stderr
    assert "healthy" in health.stdout

    bot.signal()
    assert await bot.wait() == 0
    assert "Traceback" not in bot.output, bot.output
    assert "store closed" in bot.output
    assert SECRET not in bot.output
    health = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "bot", "health", "--max-age", "60"], cwd=ROOT,
        env=env, capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert health.returncode == 1, "after the stop /healthz must fail"


def test_webhook_without_secret_exits_2_with_one_line(tmp_path: Path) -> None:
    env = bot_env(LoopbackBotAPI(TOKEN), tmp_path / "data", WEBHOOK_URL=URL)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=30,
    )  # fmt: skip
    assert result.returncode == 2
    assert "WEBHOOK_SECRET" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
