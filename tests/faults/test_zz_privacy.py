"""Secrets and privacy over the whole fault suite (this file is collected last): the captured logs
(production's format and token filter, plus the stderr of every `python -m bot run` of the kill
trials) hold no token and no note text; data files are owner-only (0600, folders 0700)."""

from __future__ import annotations

import stat
from pathlib import Path

from tests.e2e.harness import TOKEN, BotHarness, onboard
from tests.faults.conftest import CAPTURE, FIGURES
from tests.faults.flows import checkin_with_note

NOTE = "privacy-canary: my left eyelid twitched through the whole meeting"


def modes(data_dir: Path) -> list[str]:
    """Paths under `data_dir` that are not owner-only."""
    wrong = []
    for path in [data_dir, *data_dir.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            wrong.append(f"{path.relative_to(data_dir)} {oct(mode)}")
    return wrong


async def test_logs_hold_no_token_or_note_and_files_are_owner_only(harness: BotHarness) -> None:
    # Something sensitive to look for even when this file runs alone.
    user = await onboard(harness, 8300)
    CAPTURE.secrets.add(NOTE)
    await checkin_with_note(user, NOTE)
    await user.send("/export")
    await user.next_message(timeout=10)
    CAPTURE.data_dirs.append(harness.data_dir)

    output = CAPTURE.text()
    raw = "\n".join(r.getMessage() for r in CAPTURE.records)
    assert output.strip(), "nothing was captured"
    assert TOKEN not in output
    leaked = sorted(s for s in CAPTURE.secrets if s in output or s in raw)
    assert leaked == [], f"{len(leaked)} note texts reached the logs: {leaked[:3]}"

    checked = [d for d in CAPTURE.data_dirs if d.exists()]
    wrong = [w for d in checked for w in modes(d)]
    assert wrong == [], wrong
    files = sum(1 for d in checked for p in d.rglob("*") if p.is_file())
    FIGURES["privacy"] = (
        f"{len(output.splitlines())} log lines + {len(CAPTURE.subprocess_logs)} bot process "
        f"logs: 0 tokens, 0 of {len(CAPTURE.secrets)} note/input texts; {files} data files in "
        f"{len(checked)} data folders all 0600/0700"
    )
