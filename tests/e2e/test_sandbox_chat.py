"""The offline sandbox as a person uses it: a real pseudo-terminal, typing and pressing numbers."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

ROOT = Path(__file__).resolve().parents[2]


def _make_is_ready() -> bool:
    """`make run` would install first if .venv is missing or stale: too slow for a test.
    `make -q` asks make itself whether what `make run` installs is up to date."""
    if shutil.which("make") is None:
        return False
    question = ["make", "-q", "--no-print-directory", ".venv/.synced-run"]
    return subprocess.run(question, cwd=ROOT, capture_output=True).returncode == 0


def _spawn(tmp_path: Path, command: list[str] | None = None) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    env.update(
        COACH_DATA_DIR=str(tmp_path / "data"),
        COACH_SANDBOX_FILES=str(tmp_path / "files"),
        TERM="xterm",
        PROMPT_TOOLKIT_NO_CPR="1",  # pexpect does not answer cursor-position requests
    )
    command = command or [sys.executable, "-m", "bot", "sandbox"]
    child = pexpect.spawn(
        command[0],
        command[1:],
        cwd=str(ROOT),
        env=env,
        encoding="utf-8",
        timeout=15,
        dimensions=(50, 160),
    )
    child.logfile_read = open(tmp_path / "terminal.log", "w", encoding="utf-8")  # noqa: SIM115
    return child


def _type(child: pexpect.spawn, line: str) -> None:
    child.expect_exact("you ›")
    child.sendline(line)


def _finish(child: pexpect.spawn, tmp_path: Path) -> str:
    child.expect_exact("Bye.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, (child.exitstatus, child.signalstatus)
    assert not child.isalive()
    log = (tmp_path / "terminal.log").read_text(encoding="utf-8")
    assert "Traceback" not in log
    return log


def _profile(tmp_path: Path, user_id: int = 1001) -> dict:
    path = tmp_path / "data" / "users" / f"{user_id % 256:02x}" / f"{user_id}.json"
    docs = json.loads(path.read_text(encoding="utf-8"))["profile"]
    return next(iter(docs.values()))


def test_onboarding_by_typing_numbers_then_quit(tmp_path: Path) -> None:
    child = _spawn(tmp_path)
    try:
        first = child.readline()
        assert "offline sandbox" in first and "TELEGRAM_BOT_TOKEN" in first
        _type(child, "/start")
        child.expect_exact("[1] I understand")
        _type(child, "1")
        child.expect_exact("updated message")  # the note is edited in place, not re-sent
        child.expect(r"\[(\d+)\] Berlin")
        berlin = child.match.group(1)
        _type(child, berlin)
        child.expect_exact("Time zone: Berlin")
        child.expect(r"\[(\d+)\] 08:00")
        eight = child.match.group(1)
        _type(child, eight)
        child.expect_exact("Morning tip at 08:00")
        child.expect(r"\[(\d+)\] \S+ My week")  # the reply keyboard, numbered
        week = child.match.group(1)
        _type(child, berlin)  # an old button whose message has changed
        child.expect_exact("is gone")
        _type(child, week)  # a reply-keyboard number sends that button's words
        child.expect_exact("── bot, message")
        _type(child, "/quit")
        log = _finish(child, tmp_path)
    finally:
        child.close(force=True)
    assert "keyboard" in log
    profile = _profile(tmp_path)
    assert profile["tz"] == "Europe/Berlin"
    assert profile["tip_time"] == "08:00"


@pytest.mark.skipif(not _make_is_ready(), reason="needs make and an installed .venv")
def test_make_run_without_token_is_the_sandbox_and_ctrl_c_leaves_cleanly(tmp_path: Path) -> None:
    # Ctrl-C is read as a key, not a signal, so make around us is not interrupted either.
    child = _spawn(tmp_path, ["make", "--no-print-directory", "-s", "run"])
    try:
        assert "offline sandbox" in child.readline()
        _type(child, "/start")
        child.expect_exact("[1] I understand")
        _type(child, "1")
        child.expect_exact("Which time zone")
        child.expect_exact("you ›")
        child.sendcontrol("c")
        log = _finish(child, tmp_path)
    finally:
        child.close(force=True)
    assert "Interrupt" not in log and "***" not in log  # make's complaint on an interrupted run
    assert _profile(tmp_path)["accepted"]


@pytest.mark.parametrize("signal_name", ["SIGTERM"])
def test_sigterm_leaves_cleanly(tmp_path: Path, signal_name: str) -> None:
    import signal

    child = _spawn(tmp_path)
    try:
        child.expect_exact("you ›")
        child.kill(getattr(signal, signal_name))
        _finish(child, tmp_path)
    finally:
        child.close(force=True)
