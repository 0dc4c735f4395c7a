"""What a data folder should hold, spelled out independently of bot/storage, so a test can spot
anything else (a temp file a killed write left behind, say) without trusting the code it tests."""

from __future__ import annotations

import re
from pathlib import Path

_TOP = {"meta.json", "lock", "heartbeat.json"}
_CORRUPT = r"(\.corrupt-\d{8}T\d{6}Z(-\d+)?)?"
_IN_FOLDER = {
    "users": re.compile(rf"-?\d+\.json{_CORRUPT}"),
    "index": re.compile(rf"(\d\d|fields)\.json{_CORRUPT}"),
}


def stray_files(data_dir: Path) -> list[Path]:
    """Files under `data_dir` that are neither data, the lock nor the heartbeat."""
    stray = []
    for path in sorted(p for p in data_dir.rglob("*") if p.is_file()):
        rel = path.relative_to(data_dir)
        if len(rel.parts) == 1:
            ok = rel.name in _TOP
        else:
            pattern = _IN_FOLDER.get(rel.parts[0])
            ok = pattern is not None and pattern.fullmatch(rel.name) is not None
        if not ok:
            stray.append(path)
    return stray
