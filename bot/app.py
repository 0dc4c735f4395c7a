"""Composition root: build the PTB Application from settings, store, content and clock.

Production (`twitch-coach run`), the tests and the sandbox all build the bot through here.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from telegram import BotCommand, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.content import Content, load_content
from bot.pushes import Outgoing, PushScheduler
from bot.storage import Store, open_store
from bot.telegram import checkin, common, diary, insights, onboarding, relief, tips
from bot.telegram.callbacks import CallbackCodec
from bot.telegram.context import CoachContext, Services
from bot.telegram.delivery import send_push
from bot.telegram.errors import on_error
from bot.telegram.updates import FloodControl, PerUserUpdateProcessor

log = logging.getLogger(__name__)

# Each feature module has register(app); order matters only in that fallbacks come last.
FEATURES = (onboarding, checkin, relief, insights, tips, diary)

# Measured with `python -m bench.run --only e2e` (see README "Performance").
CONCURRENT_UPDATES = 16
CONNECTION_POOL = 8
POOL_TIMEOUT_SECONDS = 30.0
FLOOD_WINDOW_SECONDS = 10.0  # Settings.flood_limit updates per person in this window

App = Application[Any, CoachContext, Any, Any, Any, Any]


def build_application(
    settings: Settings,
    *,
    store: Store | None = None,
    content: Content | None = None,
    clock: Clock | None = None,
    rate_limiter: bool = True,
) -> App:
    content = content or load_content()
    if store is None:
        store = open_store(settings)  # files, or PostgreSQL with COACH_DATABASE_URL
    token = settings.token.reveal()
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(context=CoachContext))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
            )
        )
        .concurrent_updates(update_processor(settings, content))
        # httpcore walks its whole pool on every request: a small pool is faster (bench/), and
        # a request waits for a free connection instead of failing after PTB's 1 s default.
        .connection_pool_size(CONNECTION_POOL)
        .pool_timeout(POOL_TIMEOUT_SECONDS)
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url).base_file_url(settings.base_file_url or "")
    if rate_limiter:
        # ~30 messages/s overall as Telegram asks; RetryAfter is waited out and retried.
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    app: App = builder.build()
    # The button-signing key comes from the token, so buttons stay valid across restarts.
    secret = hashlib.sha256(token.encode()).digest()
    clock = clock or SystemClock()
    bot_store = store

    async def send(user_id: int, message: Outgoing) -> bool:
        return await send_push(app.bot, bot_store, user_id, message)

    pushes = PushScheduler(store, clock, send, tick_seconds=settings.push_tick_seconds)
    services = Services(
        settings=settings,
        store=store,
        content=content,
        clock=clock,
        codec=CallbackCodec(secret),
        pushes=pushes,
    )
    app.bot_data["services"] = services
    common.register_gate(app)
    for feature in FEATURES:
        feature.register(app)  # push kinds register here, before the scheduler starts
    common.register_fallbacks(app)
    app.add_error_handler(on_error)
    services.startup_hooks.append(pushes.start)
    services.shutdown_hooks.append(pushes.stop)
    return app


def update_processor(settings: Settings, content: Content) -> PerUserUpdateProcessor:
    """Each person's updates in order, concurrency across people, and flood control."""
    flood = None
    if settings.flood_limit > 0:
        flood = FloodControl(settings.flood_limit, FLOOD_WINDOW_SECONDS)
    processor = PerUserUpdateProcessor(CONCURRENT_UPDATES, flood=flood)

    async def slow_down_note(update: Update) -> None:
        assert update.effective_chat is not None  # person_of() found a user or a chat
        await update.get_bot().send_message(update.effective_chat.id, content.t("common.slow_down"))

    processor.on_flood = slow_down_note
    return processor


async def start_app(app: App) -> None:
    """Initialise and run start-up hooks, as run_polling/run_webhook do before serving; then
    the caller starts its source of updates (polling or a webhook) and `app.start()`."""
    await app.initialize()
    if app.post_init:
        await app.post_init(app)


async def stop_app(app: App) -> None:
    """Stop fetching, let the updates queued and in flight finish, then close (the store too).
    The one way every mode (tests, sandbox, benchmarks, webhook) stops the bot."""
    if app.updater is not None and app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown:
        await app.post_shutdown(app)


async def start_polling(app: App, *, timeout: int = 10, poll_interval: float = 0.0) -> None:
    """Start serving inside an already running event loop (tests, sandbox, benchmarks).

    Mirrors what `run_polling` does, including the post_init hook that run_polling would call.
    """
    await start_app(app)
    assert app.updater is not None
    await app.updater.start_polling(
        poll_interval=poll_interval, timeout=timeout, allowed_updates=Update.ALL_TYPES
    )
    await app.start()


stop_polling = stop_app  # the reverse of start_polling


def bot_commands(content: Content) -> list[BotCommand]:
    """The command menu, in the order the content file lists it."""
    return [
        BotCommand(key.removeprefix("commands."), text)
        for key, text in content.messages.with_prefix("commands.").items()
    ]


async def _post_init(app: App) -> None:
    services: Services = app.bot_data["services"]
    await app.bot.set_my_commands(bot_commands(services.content))
    for hook in services.startup_hooks:
        await hook(app)
    log.info("bot ready")


async def _post_shutdown(app: App) -> None:
    services: Services = app.bot_data["services"]
    for hook in services.shutdown_hooks:
        await hook(app)
    await services.store.close()
