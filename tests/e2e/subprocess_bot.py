"""Run `python -m bot run` as a real child process against the test's loopback Bot API."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
from pathlib import Path

from bot.sandbox import LoopbackBotAPI

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(server: LoopbackBotAPI, data_dir: Path, **extra: str) -> dict[str, str]:
    """The child's environment, with a fast heartbeat so health checks need not wait."""
    return server.env_for(data_dir, **{"COACH_HEARTBEAT_SECONDS": "0.2", **extra})


class BotProcess:
    """The bot as a child process; its output goes to a file (a pipe nobody reads could fill up
    and stall it) and is read back for checks (it must hold no traceback)."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.env = env
        self.log = log
        self.args = args or ("run",)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", *self.args, cwd=ROOT, env=self.env,
                stdout=out, stderr=out,
            )  # fmt: skip

    @property
    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    async def wait(self, timeout: float = 15) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
