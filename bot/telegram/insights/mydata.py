"""The person's data is theirs: /export (JSON + CSV), /forget (with a one-time confirmation) and
/privacy. /forget and /privacy work before onboarding too.

Route: fg.* delete confirmation.
"""

from __future__ import annotations

import csv
import html
import io
import json
import logging
import secrets
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, Update

from bot.domain import insights as stats
from bot.domain.zones import local_now
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext
from bot.telegram.insights.shared import EPISODES, zone_of
from bot.telegram.jobs import remove_user_jobs
from bot.telegram.keyboards import inline

log = logging.getLogger(__name__)

FORGET_STATE = "forget"


def episodes_csv(episodes: list[dict[str, Any]], fallback_zone: str) -> bytes:
    """One row per episode, UTF-8; times as ISO-8601 with their UTC offset (local and UTC)."""
    columns = [
        "id", "started_at_local", "started_at_utc", "tz", "intensity", "regions", "duration",
        "triggers", "tried", "note", "source", "created_at", "updated_at",
    ]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for episode in sorted(episodes, key=lambda e: (str(e.get("started_at")), e.get("id", 0))):
        instant = stats.parse_instant(episode.get("started_at"))
        zone = episode.get("tz") or fallback_zone
        local = local_now(instant, zone).isoformat() if instant else ""
        note = episode.get("note") or ""
        if note[:1] in ("=", "+", "-", "@"):
            note = "'" + note  # keep spreadsheets from running a note as a formula
        writer.writerow(
            [
                episode.get("id", ""),
                local,
                instant.isoformat() if instant else episode.get("started_at", ""),
                zone,
                episode.get("intensity", ""),
                ";".join(map(str, episode.get("regions") or [])),
                episode.get("duration") or "",
                ";".join(map(str, episode.get("triggers") or [])),
                ";".join(map(str, episode.get("tried") or [])),
                note,
                episode.get("source") or "",
                episode.get("created_at") or "",
                episode.get("updated_at") or "",
            ]
        )
    return buffer.getvalue().encode("utf-8")


def export_json(
    user_id: int, profile: dict[str, Any] | None, tables: dict[str, Any], now: datetime
) -> bytes:
    """The /export JSON document (copy-store's round trip is checked against these bytes)."""
    everything = {
        "format": "fibro-twitch-coach-export",
        "version": 1,
        "exported_at": now.isoformat(),
        "user_id": user_id,
        "profile": profile,
        "tables": tables,
    }
    return json.dumps(everything, ensure_ascii=False, indent=2).encode("utf-8")


async def export_command(update: Update, ctx: CoachContext) -> None:
    """/export: everything as JSON plus the episodes as CSV, as two documents."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    profile = await ctx.store.get_profile(user_id)
    tables = await ctx.store.export_user(user_id)
    if profile is None and not tables:
        await message.reply_text(ctx.t("insights.export_nothing"))
        return
    now = ctx.services.clock.now()
    episodes = tables.get(EPISODES, [])
    stamp = now.strftime("%Y%m%d")
    await message.reply_text(ctx.t("insights.export_intro"))
    summary = ", ".join(f"{name} {len(docs)}" for name, docs in tables.items())
    await message.reply_document(
        export_json(user_id, profile, tables, now),
        filename=f"twitch-coach-export-{stamp}.json",
        caption=ctx.t("insights.export_json_caption", tables=html.escape(summary)),
    )
    await message.reply_document(
        episodes_csv(episodes, zone_of(profile)),
        filename=f"twitch-coach-episodes-{stamp}.csv",
        caption=ctx.t("insights.export_csv_caption", count=len(episodes)),
    )


# ---------------------------------------------------------------------------- forget


async def forget_command(update: Update, ctx: CoachContext) -> None:
    """/forget: explain, then ask for a button confirmation. Works before onboarding too."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    if await ctx.store.get_profile(user_id) is None and not await ctx.store.export_user(user_id):
        await message.reply_text(ctx.t("insights.forget_nothing"))
        return
    token = secrets.token_urlsafe(6)
    await ctx.store.set_state(user_id, FORGET_STATE, {"token": token})
    keyboard = inline(
        [
            [(ctx.t("insights.forget_yes_button"), ctx.button(user_id, "fg.yes", token))],
            [(ctx.t("insights.forget_no_button"), ctx.button(user_id, "fg.no", token))],
        ]
    )
    await message.reply_text(ctx.t("insights.forget_ask"), reply_markup=keyboard)


@button
async def on_forget(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """fg.yes deletes everything (jobs first, so none writes again); fg.no keeps it."""
    user_id = user_id_of(update)
    state = await ctx.store.get_state(user_id, FORGET_STATE)
    if not state or state.get("token") != callback.arg(0):
        raise BadCallback("not the current confirmation")
    await query.answer()
    if callback.route != "fg.yes":
        await ctx.store.clear_state(user_id, FORGET_STATE)
        await edit_or_send(query, ctx.t("insights.forget_kept"))
        return
    removed = remove_user_jobs(ctx.application, user_id)
    await ctx.store.delete_user(user_id)
    log.info("a user deleted their data (%d scheduled jobs removed)", removed)
    await edit_or_send(query, ctx.t("insights.forget_done"))


async def privacy_command(update: Update, ctx: CoachContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(ctx.t("insights.privacy"))
