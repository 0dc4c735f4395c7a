"""What the sandbox chat prints for files, edits and buttons (real Bot API calls, no terminal)."""

from __future__ import annotations

import struct
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import LoopbackBotAPI
from bot.sandbox.chat import ChatView
from tests.e2e.harness import TOKEN

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + struct.pack(">II", 2, 3) + b"\x08\x02\x00\x00\x00"


async def test_files_are_saved_and_edits_update_the_same_message(
    loopback: LoopbackBotAPI, tmp_path: Path
) -> None:
    user = loopback.user(5)
    printed: list[str] = []
    view = ChatView(user, tmp_path / "files", out=printed.append)
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]])
    bot = Bot(TOKEN, base_url=loopback.base_url, base_file_url=loopback.base_file_url)
    async with bot:
        await bot.send_document(5, document=b"day,count\n", filename="week.csv", caption="Week")
        await bot.send_photo(5, photo=PNG, caption="Chart")
        sent = await bot.send_message(5, "Ready?", reply_markup=keyboard)
        await bot.edit_message_text("Done.", chat_id=5, message_id=sent.message_id)

    document, photo, question, edit = [view.render(await user.next_event()) for _ in range(4)]
    saved = tmp_path / "files" / "1-week.csv"
    assert f"document saved to {saved}" in document and "Week" in document
    assert saved.read_bytes() == b"day,count\n"
    assert "photo saved to" in photo and "Chart" in photo
    assert next((tmp_path / "files").glob("2-*")).read_bytes() == PNG
    assert f"message {sent.message_id}:" in question and "[1] Yes" in question
    assert f"updated message {sent.message_id}:" in edit and "Done." in edit
    assert "[1]" not in edit  # the edit removed the button

    assert await view.handle("1")  # pressing a button that is gone presses nothing
    assert "is gone" in printed[-1]
    assert not user.callback_answers
    assert not await view.handle("/quit")
