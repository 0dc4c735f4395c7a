"""Secrets and privacy over the whole fault suite (this file is collected last).

What is checked is what the bot printed: production's own log handler (bot.logs.setup_logging,
installed by conftest.py) and the stderr of every `python -m bot run` of the suite, this file's
own included, so it holds even when run alone. They hold no token; neither they nor the raw log
records (before any redaction) hold a note text. Data files are owner-only (0600, folders 0700).
"""

from __future__ import annotations

import asyncio
import logging
import stat
from pathlib import Path

from bot.sandbox import LoopbackBotAPI
from tests.e2e.harness import TOKEN, BotHarness, onboard
from tests.e2e.subprocess_bot import BotProcess, bot_env
from tests.faults.conftest import CAPTURE, FIGURES
from tests.faults.flows import checkin_with_note, onboard_robust

NOTE = "privacy-canary: my left eyelid twitched through the whole meeting"
PROCESS_NOTE = "privacy-canary-2: both calves jumped all night long"


def modes(data_dir: Path) -> list[str]:
    """Paths under `data_dir` that are not owner-only."""
    wrong = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(data_dir)} {oct(mode)}")
    return wrong


def log_what_libraries_log() -> None:
    """The token in a request URL, as httpx and PTB put it in warnings and in exceptions: the
    handler must print neither (the raw capture shows the records really held it)."""
    url = f"http://127.0.0.1/bot{TOKEN}/getUpdates"
    logging.getLogger("httpx").warning("HTTP Request: POST %s failing", url)
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        logging.getLogger("telegram.ext.Updater").exception("Error while getting Updates")


async def bot_process_with_a_note(tmp_path: Path) -> str:
    """A real `python -m bot run`: a person checks in with a note and exports; its stderr."""
    async with LoopbackBotAPI(TOKEN) as server:
        data_dir = tmp_path / "process-data"
        bot = BotProcess(bot_env(server, data_dir), tmp_path / "process.log")
        await bot.start()
        try:
            async with asyncio.timeout(60):  # started and polling (slow on a busy machine)
                while server.count("getUpdates") == 0:
                    assert bot.proc is not None and bot.proc.returncode is None, bot.output
                    await asyncio.sleep(0.05)
            user = server.user(8301)
            await onboard_robust(user)
            await checkin_with_note(user, PROCESS_NOTE)
            await user.send("/export")
            await user.next_message(timeout=10)
            bot.signal()
            assert await bot.wait() == 0
        finally:
            await bot.kill()
        CAPTURE.data_dirs.append(data_dir)
        return bot.output


async def test_logs_hold_no_token_or_note_and_files_are_owner_only(
    harness: BotHarness, tmp_path: Path
) -> None:
    # Something sensitive to look for even when this file runs alone.
    CAPTURE.secrets.update({NOTE, PROCESS_NOTE})
    user = await onboard(harness, 8300)
    await checkin_with_note(user, NOTE)
    await user.send("/export")
    await user.next_message(timeout=10)
    CAPTURE.data_dirs.append(harness.data_dir)
    CAPTURE.subprocess_logs.append(await bot_process_with_a_note(tmp_path))
    log_what_libraries_log()

    printed = CAPTURE.printed()
    raw = CAPTURE.raw.getvalue()
    assert CAPTURE.stream.getvalue().strip(), "production's handler wrote nothing"
    assert "bot ready" in CAPTURE.subprocess_logs[-1], "the bot process's stderr is not here"
    assert TOKEN in raw, "the raw capture should hold what the records held, token included"
    assert TOKEN not in printed
    leaked = sorted(s for s in CAPTURE.secrets if s in printed or s in raw)
    assert leaked == [], f"{len(leaked)} note texts reached the logs: {leaked[:3]}"

    checked = [d for d in CAPTURE.data_dirs if d.exists()]
    wrong = [w for d in checked for w in modes(d)]
    assert wrong == [], wrong
    files = sum(1 for d in checked for p in d.rglob("*") if p.is_file())
    FIGURES["privacy"] = (
        f"{len(CAPTURE.stream.getvalue().splitlines())} log lines + "
        f"{len(CAPTURE.subprocess_logs)} bot process logs: 0 tokens, 0 of "
        f"{len(CAPTURE.secrets)} note/input texts (raw records too); {files} data files in "
        f"{len(checked)} data folders all 0600/0700"
    )
