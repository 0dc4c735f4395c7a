"""Webhook mode: Telegram POSTs updates to us instead of us polling for them.

Chosen over PTB's ``run_webhook`` (a tornado server with a fixed route table) so that one small
aiohttp app on one port serves both the webhook and ``/healthz`` for the supervisor, without adding
tornado. It does what ``run_webhook`` does: register the webhook with a secret token, refuse
requests without it (403), queue each update on the Application, and on SIGTERM/SIGINT stop
accepting, finish every queued and running update, then close the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import re
import signal
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update

from bot.config import ConfigError

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# What Telegram accepts as secret_token in setWebhook.
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
MAX_UPDATE_BYTES = 1024 * 1024  # updates are a few KB; anything this big is not from Telegram


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str = ""
    listen: str = "0.0.0.0"  # all interfaces: in a container; systemd sets 127.0.0.1
    port: int = 8080

    @property
    def path(self) -> str:
        """The local path to serve: the path of the public URL (a proxy forwards it as is)."""
        return urlparse(self.url).path or "/"

    def __repr__(self) -> str:  # the secret stays out of logs
        return f"WebhookConfig(url={self.url!r}, listen={self.listen!r}, port={self.port})"


def webhook_port(env: dict[str, str]) -> int:
    raw = env.get("PORT") or "8080"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT must be a TCP port number (1-65535), not {raw!r}")
    return int(raw)


def load_webhook_config(env: dict[str, str] | None = None) -> WebhookConfig | None:
    """None when WEBHOOK_URL is unset (polling); ConfigError for anything unusable."""
    env = dict(os.environ if env is None else env)
    url = (env.get("WEBHOOK_URL") or "").strip()
    if not url:
        return None
    if not url.startswith("https://"):
        raise ConfigError("WEBHOOK_URL must start with https:// (Telegram only calls HTTPS URLs)")
    secret = (env.get("WEBHOOK_SECRET") or "").strip()
    if not secret:
        raise ConfigError(
            "WEBHOOK_SECRET is not set: webhook mode needs it so that only Telegram can post "
            "updates. Generate one with: python3 -c 'import secrets; print(secrets.token_hex(32))'"
        )
    if not _SECRET_RE.fullmatch(secret):
        raise ConfigError(
            "WEBHOOK_SECRET must be 16-256 characters of A-Z, a-z, 0-9, _ and - "
            "(what Telegram accepts)"
        )
    listen = (env.get("WEBHOOK_LISTEN") or "0.0.0.0").strip()
    return WebhookConfig(url=url, secret=secret, listen=listen, port=webhook_port(env))


def build_web_app(app: Any, config: WebhookConfig) -> web.Application:
    """The aiohttp app: POST <path> for Telegram, GET /healthz for supervisors."""
    expected = config.secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403, text="forbidden")
        try:
            data = json.loads(await request.read())
            update = Update.de_json(data, app.bot)
        except (ValueError, TypeError, KeyError):
            return web.Response(status=400, text="bad update")
        if update is None or not app.running:
            return web.Response(status=503, text="not running")
        # Queued, not processed here: Telegram gets its 200 at once and the Application applies
        # each user's updates in order (PerUserUpdateProcessor).
        await app.update_queue.put(update)
        return web.Response(status=200, text="ok")

    async def healthz(_request: web.Request) -> web.Response:
        running = bool(app.running)
        body = {"status": "ok" if running else "stopping"}
        return web.json_response(body, status=200 if running else 503)

    web_app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    web_app.router.add_post(config.path, receive)
    web_app.router.add_get("/healthz", healthz)
    return web_app


async def serve_webhook(app: Any, config: WebhookConfig, stop: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT (or ``stop`` is set), then shut down gracefully."""
    from bot.app import start_app, stop_app  # here: `twitch-coach health` imports this module

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(build_web_app(app, config), access_log=None, shutdown_timeout=5.0)
    try:
        await start_app(app)
        await app.start()
        await runner.setup()
        await web.TCPSite(runner, config.listen, config.port).start()
        # Register only once we can receive: Telegram retries failed deliveries, nothing is lost.
        await app.bot.set_webhook(
            url=config.url, secret_token=config.secret, allowed_updates=Update.ALL_TYPES
        )
        log.info("webhook mode: listening on %s:%s%s", config.listen, config.port, config.path)
        await stop.wait()
        log.info("stopping: finishing updates in flight")
    finally:
        await runner.cleanup()  # no new requests; those being answered finish first
        await stop_app(app)  # processes everything already queued, then closes the store
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
