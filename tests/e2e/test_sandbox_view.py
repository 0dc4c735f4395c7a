"""What the sandbox chat prints for files, edits and buttons (real Bot API calls, no terminal)."""

from __future__ import annotations

import struct
from pathlib import Path

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.sandbox import LoopbackBotAPI
from bot.sandbox.chat import ChatView
from tests.e2e.harness import TOKEN, BotHarness
from tests.e2e.test_insights import WEDNESDAY, ready_user, seed, week_of_episodes

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
    # Sent as bare bytes: no file name, so the name comes from the kind and the first bytes.
    assert f"photo saved to {tmp_path / 'files' / '2-photo.png'}" in photo and "Chart" in photo
    assert (tmp_path / "files" / "2-photo.png").read_bytes() == PNG
    assert f"message {sent.message_id}:" in question and "[1] Yes" in question
    assert f"updated message {sent.message_id}:" in edit and "Done." in edit
    assert "[1]" not in edit  # the edit removed the button

    assert await view.handle("1")  # pressing a button that is gone presses nothing
    assert "is gone" in printed[-1]
    assert not user.callback_answers
    assert not await view.handle("/quit")


async def test_files_sent_without_a_name_are_named_by_their_content(
    loopback: LoopbackBotAPI, tmp_path: Path
) -> None:
    user = loopback.user(6)
    view = ChatView(user, tmp_path, out=[].append)
    bot = Bot(TOKEN, base_url=loopback.base_url, base_file_url=loopback.base_file_url)
    pdf, jpeg, unknown = b"%PDF-1.4\n%%EOF\n", b"\xff\xd8\xff\xe0" + bytes(16), b"\x00\x01odd"
    async with bot:
        await bot.send_document(6, document=pdf)
        await bot.send_document(6, document=jpeg)
        await bot.send_document(6, document=unknown)
        await bot.send_document(6, document=b"a,b\n", filename="odd name?.csv")
    printed = [view.render(await user.next_event()) for _ in range(4)]
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["1-document.pdf", "2-document.jpg", "3-document.bin", "4-odd_name_.csv"]
    assert (tmp_path / "1-document.pdf").read_bytes() == pdf
    assert all("application.octet-stream" not in line for line in printed)


async def test_the_bots_week_chart_and_report_are_saved_under_proper_names(
    harness: BotHarness, tmp_path: Path
) -> None:
    user = await ready_user(harness, 7201)
    await seed(harness, 7201, "episodes", week_of_episodes(WEDNESDAY))
    files = tmp_path / "sandbox-files"
    view = ChatView(user, files, out=[].append)
    await user.send("/week")
    chart = await user.next_message()
    assert chart.kind == "photo"
    shown = view.render(chart)
    saved = files / f"{chart.message_id}-week.png"  # issue 17 item 3: a name that says what it is
    assert f"[photo saved to {saved}]" in shown
    assert saved.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")

    await user.next_message()  # the week in words
    await user.send("/report")
    await user.next_message()  # which period?
    await user.press("Last 30 days")
    await user.next_message()  # making your report...
    report = await user.next_message()
    view.render(report)
    assert (files / f"{report.message_id}-twitching-report-2026-11-25.pdf").is_file()
    assert not list(files.glob("*octet-stream*"))
