"""/start and the first-run questions: the not-medical-advice note, time zone, tip time.

Also /timezone, /tiptime, /settings and /help, which change or show the same settings later.
"""

from __future__ import annotations

import html
from typing import Any

from telegram import CallbackQuery, Update
from telegram.constants import ChatMemberStatus
from telegram.ext import Application, CallbackQueryHandler, ChatMemberHandler, CommandHandler

from bot.domain.profile import Profile, new_profile, next_onboarding_step
from bot.domain.zones import (
    format_clock_time,
    local_now,
    parse_clock_time,
    resolve_zone,
    zone_label,
)
from bot.telegram.callbacks import BadCallback, Callback, route_pattern
from bot.telegram.common import button, clear_awaiting, edit_or_send, set_awaiting, user_id_of
from bot.telegram.context import CoachContext
from bot.telegram.delivery import mark_inactive
from bot.telegram.insights import offer_red_flag_check
from bot.telegram.keyboards import chunk, inline, main_menu

TZ_INPUT = "ob.tz"
TIP_TIME_INPUT = "ob.tip_time"


def _name(update: Update) -> str:
    user = update.effective_user
    return html.escape(user.first_name if user and user.first_name else "there")


async def start(update: Update, ctx: CoachContext) -> None:
    """/start: welcome someone new; a known user resumes or sees the menu, never wiped."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    profile = await ctx.store.get_profile(user_id)
    if profile is None:
        profile = new_profile(user_id, ctx.services.clock.now())
        await ctx.store.save_profile(user_id, dict(profile))
        await message.reply_text(ctx.t("onboarding.welcome", name=_name(update)))
    elif not profile.get("active", True):
        # They blocked the bot and came back: deliveries resume.
        profile = await ctx.store.update_profile(user_id, {"active": True})
    await _continue_onboarding(update, ctx, profile)  # type: ignore[arg-type]


async def _continue_onboarding(update: Update, ctx: CoachContext, profile: Profile) -> None:
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    step = next_onboarding_step(profile)
    if step == "accept":
        await message.reply_text(
            ctx.t("onboarding.disclaimer"),
            reply_markup=inline(
                [[(ctx.t("onboarding.accept_button"), ctx.button(user_id, "ob.ok"))]]
            ),
        )
    elif step == "tz":
        await _ask_zone(update, ctx)
    elif step == "tip_time":
        await _ask_tip_time(update, ctx)
    elif not profile.get("onboarded"):
        await _finish(update, ctx)
    else:
        await message.reply_text(
            ctx.t("onboarding.welcome_back", name=_name(update)),
            reply_markup=main_menu(ctx.content),
        )


@button
async def on_accept(
    update: Update, ctx: CoachContext, query: CallbackQuery, _callback: Callback
) -> None:
    """The "I understand" button."""
    user_id = user_id_of(update)
    profile = await ctx.store.get_profile(user_id)
    if profile is None:
        await query.answer(ctx.t("common.expired_button"))
        return
    if profile.get("accepted"):
        await query.answer(ctx.t("onboarding.already_accepted"))
        return
    now = ctx.services.clock.now().isoformat()
    profile = await ctx.store.update_profile(user_id, {"accepted": True, "accepted_at": now})
    await query.answer()
    await edit_or_send(
        query, ctx.t("onboarding.disclaimer") + "\n\n" + ctx.t("onboarding.accepted")
    )
    await _continue_onboarding(update, ctx, profile)  # type: ignore[arg-type]


def _zone_keyboard(ctx: CoachContext, user_id: int) -> Any:
    now = ctx.services.clock.now()
    buttons = [
        (
            f"{b.label} · {format_clock_time(local_now(now, b.zone).time())}",
            ctx.button(user_id, "ob.tz", index),
        )
        for index, b in enumerate(ctx.content.zones.buttons)
    ]
    rows = chunk(buttons, 2)
    rows.append([(ctx.t("onboarding.type_zone_button"), ctx.button(user_id, "ob.tzt"))])
    return inline(rows)


async def _ask_zone(update: Update, ctx: CoachContext) -> None:
    assert update.effective_message is not None
    user_id = user_id_of(update)
    await update.effective_message.reply_text(
        ctx.t("onboarding.ask_zone"), reply_markup=_zone_keyboard(ctx, user_id)
    )


def _tip_time_keyboard(ctx: CoachContext, user_id: int) -> Any:
    buttons = [
        (value, ctx.button(user_id, "ob.tt", value.replace(":", "")))
        for value in ctx.content.zones.tip_times
    ]
    rows = chunk(buttons, 4)
    rows.append([(ctx.t("onboarding.other_time_button"), ctx.button(user_id, "ob.tto"))])
    return inline(rows)


async def _ask_tip_time(update: Update, ctx: CoachContext) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        ctx.t("onboarding.ask_tip_time"), reply_markup=_tip_time_keyboard(ctx, user_id_of(update))
    )


async def _finish(update: Update, ctx: CoachContext) -> None:
    """Onboarding done: say what the bot can do and show the main menu keyboard."""
    assert update.effective_message is not None
    await ctx.store.update_profile(user_id_of(update), {"onboarded": True})
    await update.effective_message.reply_text(
        ctx.t("onboarding.what_i_do"), reply_markup=main_menu(ctx.content)
    )
    await offer_red_flag_check(update, ctx)  # optional, skippable yes/no safety check


async def _after_setting(update: Update, ctx: CoachContext, profile: dict[str, Any]) -> None:
    """After a zone or time is stored: go on with onboarding, or just confirm a later change."""
    if not profile.get("onboarded"):
        await _continue_onboarding(update, ctx, profile)  # type: ignore[arg-type]


async def _save_zone(update: Update, ctx: CoachContext, zone: str) -> tuple[str, dict[str, Any]]:
    """Store the zone; return the confirmation to show and the updated profile."""
    user_id = user_id_of(update)
    profile = await ctx.store.update_profile(user_id, {"tz": zone})
    await clear_awaiting(ctx, user_id)
    local = format_clock_time(local_now(ctx.services.clock.now(), zone).time())
    return ctx.t("onboarding.zone_set", zone=zone_label(zone), local_time=local), profile


@button
async def on_zone_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """A quick zone button, or "type my city"."""
    user_id = user_id_of(update)
    if callback.route == "ob.tzt":
        await set_awaiting(ctx, user_id, TZ_INPUT)
        await query.answer()
        await edit_or_send(query, ctx.t("onboarding.type_zone_prompt"))
        return
    buttons = ctx.content.zones.buttons
    index = callback.int_arg(0, 0, len(buttons) - 1)  # missing or out of range: @button answers
    confirmation, profile = await _save_zone(update, ctx, buttons[index].zone)
    await query.answer()
    await edit_or_send(query, confirmation)
    await _after_setting(update, ctx, profile)


async def on_zone_text(
    update: Update, ctx: CoachContext, text: str, _state: dict[str, Any]
) -> None:
    """A typed city, zone name or offset; a wrong value gets a helpful retry."""
    assert update.effective_message is not None
    zone = resolve_zone(text, ctx.content.zones.cities)
    if zone is None:
        shown = html.escape(text.strip()[:40])
        await update.effective_message.reply_text(ctx.t("onboarding.zone_unknown", text=shown))
        return
    confirmation, profile = await _save_zone(update, ctx, zone)
    await update.effective_message.reply_text(confirmation)
    await _after_setting(update, ctx, profile)


async def timezone_command(update: Update, ctx: CoachContext) -> None:
    """/timezone <zone> sets it directly; bare /timezone shows the buttons."""
    assert update.effective_message is not None
    if not ctx.args:
        await _ask_zone(update, ctx)
        return
    await on_zone_text(update, ctx, " ".join(ctx.args), {})


async def _save_tip_time(
    update: Update, ctx: CoachContext, value: str
) -> tuple[str, dict[str, Any]]:
    """Store the tip time; return the confirmation to show and the updated profile."""
    user_id = user_id_of(update)
    profile = await ctx.store.update_profile(user_id, {"tip_time": value})
    await clear_awaiting(ctx, user_id)
    return ctx.t("onboarding.tip_time_set", time=value), profile


@button
async def on_tip_time_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    if callback.route == "ob.tto":
        await set_awaiting(ctx, user_id_of(update), TIP_TIME_INPUT)
        await query.answer()
        await edit_or_send(query, ctx.t("onboarding.type_time_prompt"))
        return
    raw = callback.arg(0)
    parsed = parse_clock_time(f"{raw[:2]}:{raw[2:]}") if len(raw) == 4 else None
    if parsed is None:
        raise BadCallback("not a tip time")
    confirmation, profile = await _save_tip_time(update, ctx, format_clock_time(parsed))
    await query.answer()
    await edit_or_send(query, confirmation)
    await _after_setting(update, ctx, profile)


async def on_tip_time_text(
    update: Update, ctx: CoachContext, text: str, _state: dict[str, Any]
) -> None:
    assert update.effective_message is not None
    parsed = parse_clock_time(text)
    if parsed is None:
        shown = html.escape(text.strip()[:20])
        await update.effective_message.reply_text(ctx.t("onboarding.tip_time_bad", text=shown))
        return
    confirmation, profile = await _save_tip_time(update, ctx, format_clock_time(parsed))
    await update.effective_message.reply_text(confirmation)
    await _after_setting(update, ctx, profile)


async def tiptime_command(update: Update, ctx: CoachContext) -> None:
    """/tiptime HH:MM sets it directly; bare /tiptime shows the buttons."""
    if not ctx.args:
        await _ask_tip_time(update, ctx)
        return
    await on_tip_time_text(update, ctx, " ".join(ctx.args), {})


async def settings_command(update: Update, ctx: CoachContext) -> None:
    """/settings: what is set now, with buttons to change it."""
    assert update.effective_message is not None
    user_id = user_id_of(update)
    profile = await ctx.store.get_profile(user_id) or {}
    zone = profile.get("tz")
    local = format_clock_time(local_now(ctx.services.clock.now(), zone).time()) if zone else "–"
    text = ctx.t(
        "onboarding.settings",
        zone=zone_label(zone) if zone else ctx.t("onboarding.not_set"),
        local_time=local,
        tip_time=profile.get("tip_time") or ctx.t("onboarding.not_set"),
    )
    keyboard = inline(
        [
            [(ctx.t("onboarding.change_zone_button"), ctx.button(user_id, "ob.cz"))],
            [(ctx.t("onboarding.change_time_button"), ctx.button(user_id, "ob.ct"))],
        ]
    )
    await update.effective_message.reply_text(text, reply_markup=keyboard)


@button
async def on_settings_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    await query.answer()
    user_id = user_id_of(update)
    if callback.route == "ob.cz":
        await edit_or_send(
            query, ctx.t("onboarding.ask_zone"), reply_markup=_zone_keyboard(ctx, user_id)
        )
    else:
        await edit_or_send(
            query, ctx.t("onboarding.ask_tip_time"), reply_markup=_tip_time_keyboard(ctx, user_id)
        )


async def help_command(update: Update, ctx: CoachContext) -> None:
    """/help: the command menu's own list, so the two never disagree. Before the note is
    accepted, what the bot is and does and how to begin (the menu would only be refused)."""
    assert update.effective_message is not None
    profile = await ctx.store.get_profile(user_id_of(update))
    if not (profile and profile.get("accepted")):
        await update.effective_message.reply_text(ctx.t("onboarding.help_before_accept"))
        return
    commands = ctx.content.messages.with_prefix("commands.")
    lines = [f"/{key.removeprefix('commands.')} – {text}" for key, text in commands.items()]
    text = "\n".join([ctx.t("onboarding.help_header"), *lines, "", ctx.t("onboarding.help_footer")])
    await update.effective_message.reply_text(text, reply_markup=main_menu(ctx.content))


async def on_my_chat_member(update: Update, ctx: CoachContext) -> None:
    """Telegram tells us when someone blocks the bot: stop scheduled messages to them."""
    change = update.my_chat_member
    if change is not None and change.new_chat_member.status == ChatMemberStatus.BANNED:
        await mark_inactive(ctx.store, change.from_user.id)


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services = app.bot_data["services"]
    services.text_inputs[TZ_INPUT] = on_zone_text
    services.text_inputs[TIP_TIME_INPUT] = on_tip_time_text
    app.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("help", help_command))
    app.add_handler(CommandHandler("settings", settings_command))
    app.add_handler(CommandHandler("timezone", timezone_command))
    app.add_handler(CommandHandler("tiptime", tiptime_command))
    app.add_handler(CallbackQueryHandler(on_accept, pattern=route_pattern("ob.ok")))
    app.add_handler(CallbackQueryHandler(on_zone_button, pattern=route_pattern("ob.tz", "ob.tzt")))
    app.add_handler(
        CallbackQueryHandler(on_tip_time_button, pattern=route_pattern("ob.tt", "ob.tto"))
    )
    app.add_handler(
        CallbackQueryHandler(on_settings_button, pattern=route_pattern("ob.cz", "ob.ct"))
    )
