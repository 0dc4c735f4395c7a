"""The first `make run` on a fresh machine, timed as a person sees it.

A fresh clone of this repository's last commit, empty download caches for pip and uv, and
`make run` in a pseudo-terminal (so the installers show their progress as they would to a
person) until the sandbox's first prompt. Prints when each step began. Not part of `make bench`:
it downloads the pinned packages from PyPI.

    .venv/bin/python -m bench.first_run           # the figure in README "Quick start"
    .venv/bin/python -m bench.first_run --show    # also print what the terminal showed
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
# What the terminal shows at each step, in the order it happens.
STEPS = [
    ("pip starts installing uv", "Installing uv"),
    ("uv starts installing the packages", "Installing what running needs"),
    ("sandbox started", "offline sandbox"),
    ("first prompt", "you ›"),
]


def time_first_run(show: bool = False, timeout: float = 600) -> dict[str, float]:
    """Seconds from `make run` to each step; the last is the sandbox's first prompt."""
    with tempfile.TemporaryDirectory(prefix="first-run-") as tmp:
        clone, caches = Path(tmp) / "clone", Path(tmp) / "caches"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        env = {
            k: v for k, v in os.environ.items() if k not in ("TELEGRAM_BOT_TOKEN", "VIRTUAL_ENV")
        }
        env.update(
            PIP_CACHE_DIR=str(caches / "pip"),
            UV_CACHE_DIR=str(caches / "uv"),
            TERM="xterm",
            PROMPT_TOOLKIT_NO_CPR="1",  # pexpect does not answer cursor-position requests
        )
        log = Path(tmp) / "terminal.log"
        started = time.monotonic()
        child = pexpect.spawn(
            "make", ["--no-print-directory", "run"], cwd=str(clone), env=env,
            encoding="utf-8", timeout=timeout, dimensions=(40, 120),
        )  # fmt: skip
        child.logfile_read = open(log, "w", encoding="utf-8")  # noqa: SIM115
        seen: dict[str, float] = {}
        try:
            for name, text in STEPS:
                child.expect_exact(text)
                seen[name] = time.monotonic() - started
            child.sendline("/quit")
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
            child.logfile_read.close()
        if show:
            print(log.read_text(encoding="utf-8"))
        return seen


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", action="store_true", help="print what the terminal showed")
    args = parser.parse_args()
    seen = time_first_run(show=args.show)
    for name, seconds in seen.items():
        print(f"{seconds:6.1f} s  {name}")
    prompt = seen["first prompt"]
    print(f"fresh clone, empty caches: `make run` to the sandbox prompt in {prompt:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
