"""The console entry point as a person runs it."""

from __future__ import annotations

import os
import subprocess
import sys


def _run(*args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    if token is not None:
        env["TELEGRAM_BOT_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, capture_output=True, text=True, timeout=30
    )


def test_missing_token_one_clear_line_exit_2() -> None:
    result = _run("run", token=None)
    assert result.returncode == 2
    assert "BotFather" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_token_one_clear_line_exit_2() -> None:
    secretish = "12:not-a-real-token"
    result = _run("run", token=secretish)
    assert result.returncode == 2
    assert "malformed" in result.stderr
    assert secretish not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_check_content() -> None:
    result = _run("check-content", token=None)
    assert result.returncode == 0, result.stderr
    assert "content ok" in result.stdout
