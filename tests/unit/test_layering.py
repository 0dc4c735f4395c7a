"""The layers the README promises, checked on the source: engines only in bot/storage, no
Telegram in the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
ENGINES = ("tinydb", "psycopg", "psycopg_pool", "asyncpg", "sqlite3")


def imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def sources(outside: str | None = None, inside: str | None = None) -> list[Path]:
    files = sorted(BOT.rglob("*.py"))
    if inside:
        return [f for f in files if (BOT / inside) in f.parents]
    return [f for f in files if outside is None or (BOT / outside) not in f.parents]


@pytest.mark.parametrize("path", sources(outside="storage"), ids=lambda p: str(p.relative_to(BOT)))
def test_no_storage_engine_outside_bot_storage(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in ENGINES}
    assert not bad, f"{path.relative_to(BOT)} imports {sorted(bad)}: go through bot.storage"


@pytest.mark.parametrize("path", sources(inside="domain"), ids=lambda p: str(p.relative_to(BOT)))
def test_domain_has_no_telegram_or_storage_imports(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] == "telegram"}
    bad |= {m for m in imported_modules(path) if m.startswith(("bot.telegram", "bot.storage"))}
    assert not bad, f"{path.relative_to(BOT)} imports {sorted(bad)}: the domain stays pure"


def test_the_check_can_fail(tmp_path: Path) -> None:
    sample = tmp_path / "x.py"
    sample.write_text("import tinydb.table\nfrom psycopg import sql\n")
    assert imported_modules(sample) == {"tinydb.table", "psycopg"}
