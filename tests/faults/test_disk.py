"""Disk trouble: the disk fills up or turns read-only during a save. The user is told the save
failed and to try again, no file is damaged, and saving works again once the disk is back.

Beside it, the same "disk full in the middle of a write" for real (RLIMIT_FSIZE in a subprocess)
against the Store and against stock TinyDB's JSONStorage, which writes the file in place.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.storage import FileStore, atomic
from bot.storage.atomic import is_temp_name
from tests.e2e.harness import BotHarness, onboard
from tests.faults.conftest import CAPTURE, FIGURES
from tests.faults.flows import checkin_until_note, checkin_with_note, wait_for

ROOT = Path(__file__).resolve().parents[2]
WRITER = Path(__file__).with_name("disk_full_writer.py")
SAVE_FAILED = "couldn't save that"


def failing_os(fault: str) -> Any:
    """`os` as bot/storage/atomic.py sees it, with one kind of disk trouble."""

    def enospc_on_replace(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def erofs_on_create(path: Any, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return os.open(path, flags, mode)

    def enospc_half_way(fd: int, data: Any) -> int:
        # Half the bytes land, then the disk is full: a torn temp file is left to clean up.
        if len(data) > 1:
            os.write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    overrides = {
        "ENOSPC on rename": {"replace": enospc_on_replace},
        "EROFS (read-only)": {"open": erofs_on_create},
        "ENOSPC half-way through the write": {"write": enospc_half_way},
    }[fault]
    return SimpleNamespace(
        **{**{n: getattr(os, n) for n in dir(os) if not n.startswith("__")}, **overrides}
    )


def user_files(data_dir: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in (data_dir / "users").rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "fault", ["ENOSPC on rename", "EROFS (read-only)", "ENOSPC half-way through the write"]
)
async def test_disk_trouble_is_told_damages_nothing_and_recovers(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch, fault: str
) -> None:
    user = await onboard(harness, 8200)
    CAPTURE.secrets.update({"before the trouble", "during the trouble", "after the trouble"})
    await checkin_with_note(user, "before the trouble")
    await checkin_until_note(user)
    before = user_files(harness.data_dir)

    monkeypatch.setattr(atomic, "os", failing_os(fault))
    await user.send("during the trouble")
    told = await wait_for(user, lambda m: SAVE_FAILED in m.text or "Saved" in m.text, 5)
    assert SAVE_FAILED in told.text and "try again" in told.text
    assert user_files(harness.data_dir) == before  # byte for byte, no temp file left
    monkeypatch.undo()

    await user.send("after the trouble")  # the draft survived: the note step is still open
    await wait_for(user, lambda m: "Saved" in m.text and "after the trouble" in m.text, 5)
    notes = [e["note"] for e in harness.stored(user.user_id)["episodes"].values()]
    assert notes == ["before the trouble", "after the trouble"]
    assert not [p for p in harness.data_dir.rglob("*") if is_temp_name(p.name)]
    FIGURES[f"disk: {fault}"] = "user told 'couldn't save, try again'; no file changed; works after"


def _disk_full(mode: str, folder: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(WRITER), mode, str(folder)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip()


def test_real_disk_full_mid_write_store_vs_stock_tinydb(tmp_path: Path) -> None:
    store_dir, stock_dir = tmp_path / "store", tmp_path / "stock"
    stock_dir.mkdir()
    assert _disk_full("store", store_dir) == "refused StorageWriteError"
    with FileStore(store_dir) as store:
        kept = [e["n"] for e in store.all_sync(4242, "episodes")]
        assert store.verify_all() == []
    assert kept == list(range(200))  # every earlier check-in intact

    stock_outcome = _disk_full("stock", stock_dir)
    try:
        data = json.loads((stock_dir / "stock.json").read_bytes())
        stock_kept = len(data.get("episodes", {}))
    except ValueError:
        stock_kept = 0  # torn: TinyDB cannot open the file again
    FIGURES["disk full mid-write (real, RLIMIT_FSIZE)"] = (
        f"coach Store: refused, 200/200 earlier check-ins intact; stock TinyDB: "
        f"{stock_outcome}, {stock_kept}/200 earlier check-ins readable"
    )
    assert stock_outcome.startswith("refused")
