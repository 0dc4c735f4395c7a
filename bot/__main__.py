"""Command line of Fibro Twitch Coach.

run            serve Telegram: long polling, or a webhook when WEBHOOK_URL is set
sandbox        try the bot offline in this terminal (what `make run` does without a token)
health         exit 0 if the running bot is alive, 1 if not (for Docker/systemd/monitoring)
backup PATH    copy the data folder (safe while the bot runs) to PATH.tar.gz or a folder
restore PATH   put a backup back (refused while the bot runs, or over data without --force)
migrate        bring the PostgreSQL schema up to date (COACH_DATABASE_URL; the bot does it too)
copy-store     copy everyone between a data folder and PostgreSQL, verified and resumable
check-content  validate the files in content/
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from bot.config import ConfigError, load_settings
from bot.content import ContentError, load_content
from bot.logs import setup_logging

DEFAULT_SANDBOX_DIR = Path("sandbox-data")
DEFAULT_FILES_DIR = Path("sandbox-files")


def _data_dir(arg: str | None = None) -> Path:
    return Path(arg or os.environ.get("COACH_DATA_DIR") or "data")


def _run() -> int:
    from bot.health import heartbeat_interval, heartbeat_path, install_heartbeat
    from bot.storage.errors import StorageError
    from bot.webhook import load_webhook_config

    try:
        settings = load_settings()
        webhook = load_webhook_config()
        content = load_content()
        interval = heartbeat_interval()
    except (ConfigError, ContentError, ValueError) as exc:
        print(f"twitch-coach: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.token)
    from telegram import Update

    from bot.app import build_application  # imported late: keeps `--help` and errors fast

    try:
        app = build_application(settings, content=content)
    except StorageError as exc:  # another bot on this data folder, or the database unreachable
        hint = " (is the bot already running on it?)" if settings.database_url is None else ""
        print(f"twitch-coach: {exc}{hint}", file=sys.stderr)
        return 2
    mode = "webhook" if webhook else "polling"
    install_heartbeat(app, heartbeat_path(settings.data_dir), mode, interval)
    if webhook is None:
        # run_polling stops on SIGINT/SIGTERM: stops fetching, finishes the updates already
        # fetched and the handlers running, then post_shutdown closes the store.
        app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=int(settings.poll_timeout))
    else:
        import asyncio

        from bot.webhook import serve_webhook

        asyncio.run(serve_webhook(app, webhook))
    logging.getLogger("bot").info("stopped: updates in flight finished, store closed")
    return 0


def _sandbox() -> int:
    from bot.sandbox.chat import FIRST_LINE, NO_TOKEN_LINE, main

    # First, before the slower imports: say plainly that this is not the real Telegram.
    print(NO_TOKEN_LINE if not os.environ.get("TELEGRAM_BOT_TOKEN") else FIRST_LINE, flush=True)
    data_dir = Path(os.environ.get("COACH_DATA_DIR") or DEFAULT_SANDBOX_DIR)
    files_dir = Path(os.environ.get("COACH_SANDBOX_FILES") or DEFAULT_FILES_DIR)
    return main(data_dir, files_dir)


def _health(max_age: float | None) -> int:
    from bot.health import check_heartbeat, check_http, heartbeat_interval, heartbeat_path
    from bot.webhook import load_webhook_config, webhook_port

    try:
        interval = heartbeat_interval()
        # Three missed beats: one slow minute is not a reason to restart the bot.
        limit = max_age if max_age is not None else 3 * interval + 5
        results = [check_heartbeat(heartbeat_path(_data_dir()), limit)]
        if load_webhook_config() is not None:
            port = webhook_port(dict(os.environ))
            results.append(check_http(f"http://127.0.0.1:{port}/healthz"))
    except (ConfigError, ValueError) as exc:
        print(f"unhealthy: {exc}")
        return 1
    ok = all(r.ok for r in results)
    print(("healthy: " if ok else "unhealthy: ") + "; ".join(r.reason for r in results))
    return 0 if ok else 1


def _database_hint(data_dir: str | None) -> int | None:
    """backup/restore copy the data folder; with PostgreSQL the data is not there."""
    if data_dir is None and os.environ.get("COACH_DATABASE_URL"):
        print(
            "the data is in PostgreSQL (COACH_DATABASE_URL): use pg_dump / pg_restore, see "
            'README "Backups" (or pass --data-dir for a data folder)',
            file=sys.stderr,
        )
        return 2
    return None


def _backup(dest: str, data_dir: str | None) -> int:
    from bot.backup import BackupError, backup

    if (refused := _database_hint(data_dir)) is not None:
        return refused
    source = _data_dir(data_dir)
    to_stdout = dest == "-"  # `backup -`: a tar.gz on stdout, e.g. out of a container
    try:
        report = backup(source, sys.stdout.buffer if to_stdout else Path(dest))
    except (BackupError, OSError) as exc:
        print(f"backup failed: {exc}", file=sys.stderr)
        return 1
    # With `-` stdout carries the backup, so the summary goes to stderr.
    say = sys.stderr if to_stdout else sys.stdout
    where = "stdout" if to_stdout else dest
    print(f"backup written to {where}: {report.files} files, {report.bytes} bytes", file=say)
    if report.skipped:
        print(f"left out (not valid JSON): {', '.join(report.skipped)}", file=say)
    return 0


def _restore(src: str, data_dir: str | None, force: bool) -> int:
    from bot.backup import BackupError, restore

    if (refused := _database_hint(data_dir)) is not None:
        return refused
    target = _data_dir(data_dir)
    try:
        source = sys.stdin.buffer if src == "-" else Path(src)  # `restore -`: tar.gz on stdin
        count, moved = restore(source, target, force=force)
    except (BackupError, OSError) as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored {count} files into {target}")
    if moved is not None:
        print(f"the previous data was moved to {moved} (delete it once you are happy)")
    return 0


def _migrate(url: str | None) -> int:
    from bot.storage import StorageError
    from bot.storage.postgres import PostgresStore

    url = url or os.environ.get("COACH_DATABASE_URL")
    if not url:
        print("COACH_DATABASE_URL is not set: the file store needs no migration (each file is "
              "brought up to date when it is opened)")  # fmt: skip
        return 0
    try:
        with PostgresStore(url) as store:
            version, applied = store.schema_version(), store.migrations_applied
    except StorageError as exc:
        print(f"migrate failed: {exc}", file=sys.stderr)
        return 1
    done = ", ".join(map(str, applied)) if applied else "nothing to apply"
    print(f"{store.describe()}: schema version {version} ({done})")
    return 0


def _copy_store(source: str, dest: str, workers: int) -> int:
    from bot.storage import StorageError
    from bot.storage.copy import copy_store
    from bot.storage.factory import is_database_url, store_at

    if source == dest:
        print("copy-store: --from and --to are the same", file=sys.stderr)
        return 2
    if not is_database_url(source) and not (Path(source) / "meta.json").is_file():
        print(f"copy-store: no data folder at {source}", file=sys.stderr)
        return 2

    def progress(done: int, total: int) -> None:
        print(f"  {done:,} / {total:,} people", file=sys.stderr, flush=True)

    try:
        with store_at(source) as src, store_at(dest) as dst:
            report = copy_store(src, dst, workers=workers, progress=progress)
            where = f"from {src.describe()} to {dst.describe()}"
    except StorageError as exc:  # includes CopyError: a person's copy did not match
        print(f"copy-store failed: {exc}", file=sys.stderr)
        return 1
    print(
        f"copied {report.copied:,} of {report.people:,} people ({report.documents:,} documents) "
        f"{where} in {report.seconds:.1f} s; {report.already_there:,} were already there; "
        "every person verified: documents per table and SHA-256 match"
    )
    if report.only_in_destination:
        print(f"note: {report.only_in_destination:,} people in the destination are not in the "
              "source (left alone)")  # fmt: skip
    return 0


def _check_content() -> int:
    try:
        content = load_content()
    except ContentError as exc:
        print(f"content error: {exc}", file=sys.stderr)
        return 1
    print(
        f"content ok: {len(content.messages.keys())} messages, "
        f"{len(content.relief.routines)} relief routines, {len(content.tips.tips)} tips"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="twitch-coach", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="serve Telegram (long polling; a webhook if WEBHOOK_URL is set)")
    sub.add_parser("sandbox", help="try the bot offline in this terminal")
    health = sub.add_parser("health", help="exit 0 if the running bot is alive, else 1")
    health.add_argument("--max-age", type=float, help="heartbeat age limit in seconds")
    data_help = "the data folder (default: $COACH_DATA_DIR or ./data)"
    backup = sub.add_parser("backup", help="copy the data folder to PATH (.tar.gz or a folder)")
    backup.add_argument("path")
    backup.add_argument("--data-dir", help=data_help)
    restore = sub.add_parser("restore", help="put a backup back into the data folder")
    restore.add_argument("path")
    restore.add_argument("--data-dir", help=data_help)
    restore.add_argument(
        "--force", action="store_true", help="move existing data aside instead of refusing"
    )
    migrate = sub.add_parser("migrate", help="bring the PostgreSQL schema up to date")
    migrate.add_argument("--database-url", help="default: $COACH_DATABASE_URL")
    copy = sub.add_parser("copy-store", help="copy everyone between a data folder and PostgreSQL")
    copy.add_argument("--from", dest="source", required=True, help="a data folder or a URL")
    copy.add_argument("--to", dest="dest", required=True, help="a data folder or a URL")
    copy.add_argument("--workers", type=int, default=4, help="people copied at once (4)")
    sub.add_parser("check-content", help="validate the files in content/")
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return _migrate(args.database_url)
    if args.command == "copy-store":
        return _copy_store(args.source, args.dest, args.workers)
    if args.command == "check-content":
        return _check_content()
    if args.command == "sandbox":
        return _sandbox()
    if args.command == "health":
        return _health(args.max_age)
    if args.command == "backup":
        return _backup(args.path, args.data_dir)
    if args.command == "restore":
        return _restore(args.path, args.data_dir, args.force)
    return _run()


if __name__ == "__main__":
    sys.exit(main())
