"""/forget after a restore: the copies `twitch-coach restore` keeps inside the data folder
(`.before-restore-<time>`, and the staging folder a killed restore can leave) lose the person too.
Checked by reading every file under the data folder, copies included."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.backup import backup, restore
from bot.clock import ManualClock
from bot.sandbox import LoopbackBotAPI
from tests.e2e.harness import BotHarness, onboard
from tests.faults.flows import checkin_with_note

GONE, KEPT = 987_654_321, 987_000_111
NOTE = "forget-canary: my right thumb twitched at the pharmacy"
KEPT_NOTE = "kept-canary: eyelid again after coffee"


def holding(data_dir: Path, words: str) -> list[str]:
    """Every file under `data_dir`, hidden folders too, that holds `words`."""
    return sorted(
        str(p.relative_to(data_dir))
        for p in data_dir.rglob("*")
        if p.is_file() and words.encode() in p.read_bytes()
    )


async def test_forget_reaches_the_copies_restore_keeps(
    loopback: LoopbackBotAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    bot = BotHarness(loopback, data, ManualClock())
    await bot.start()
    gone, kept = await onboard(bot, GONE), await onboard(bot, KEPT)
    await checkin_with_note(gone, NOTE)
    await checkin_with_note(kept, KEPT_NOTE)
    await bot.stop()

    backup(data, tmp_path / "backup.tar.gz")
    _, moved = restore(tmp_path / "backup.tar.gz", data, force=True)
    assert moved is not None and moved.parent == data  # the old data, kept inside the folder
    shutil.copytree(moved, data / ".restore-left-by-a-killed-restore")
    copies = [moved.name, ".restore-left-by-a-killed-restore"]
    assert {p.split("/")[0] for p in holding(data, NOTE)} == {*copies, "users"}
    assert len(bot.leftovers(GONE)) > len(holding(data, NOTE))  # the index shards name them too

    await bot.start()
    await gone.send("/forget")
    await gone.next_message()
    await gone.press("Yes, delete everything")
    assert "deleted" in (await gone.next_message()).text
    await bot.stop()

    assert bot.leftovers(GONE) == [] and holding(data, NOTE) == []  # every file, copies too
    # Everyone else is still in the copies: they remain a way back for the others.
    assert {p.split("/")[0] for p in holding(data, KEPT_NOTE)} == {*copies, "users"}
