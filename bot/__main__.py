"""Command line: `twitch-coach run` (long polling) and `twitch-coach check-content`."""

from __future__ import annotations

import argparse
import sys

from telegram import Update

from bot.config import ConfigError, load_settings
from bot.content import ContentError, load_content
from bot.logs import setup_logging


def _run() -> int:
    try:
        settings = load_settings()
        content = load_content()
    except (ConfigError, ContentError) as exc:
        print(f"twitch-coach: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.token)
    from bot.app import build_application  # imported late: keeps `--help` and errors fast

    app = build_application(settings, content=content)
    app.run_polling(allowed_updates=Update.ALL_TYPES, timeout=int(settings.poll_timeout))
    return 0


def _check_content() -> int:
    try:
        content = load_content()
    except ContentError as exc:
        print(f"content error: {exc}", file=sys.stderr)
        return 1
    print(
        f"content ok: {len(content.messages.keys())} messages, "
        f"{len(content.relief.routines)} relief routines"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="twitch-coach", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Telegram and serve (long polling)")
    sub.add_parser("check-content", help="validate the files in content/")
    args = parser.parse_args(argv)
    if args.command == "check-content":
        return _check_content()
    return _run()


if __name__ == "__main__":
    sys.exit(main())
