"""Logging an episode in a few taps: /checkin, the "Log an episode" menu button, /history.

The flow edits one message through its steps: intensity -> regions -> duration -> triggers
(with Save and "Add a note" on the same screen) -> saved summary with Edit and Delete. The
draft lives in store state "checkin", so it survives a restart; every button carries the
draft's nonce and is only accepted on its own step, so buttons of an older draft or step get
"that check-in expired" and change nothing. Route prefix: "ck".

Other features start a check-in with :func:`start_checkin` (e.g. relief: region prefilled).
"""

from __future__ import annotations

import contextlib
import html
import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain import checkin as rules
from bot.domain.checkin import TABLE, DayGroup, InvalidEpisode, NoteProblem
from bot.storage import UserData
from bot.telegram.callbacks import BadCallback, Callback, feature_pattern, route_pattern
from bot.telegram.common import AWAITING, button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext
from bot.telegram.keyboards import chunk, inline, main_menu

log = logging.getLogger(__name__)

# The draft, in store state "checkin": {nonce, step, intensity, regions, duration, triggers,
# note, tried, source, started_at, tz, message_id (the message showing it), and optionally
# when {day, part} / when_day (a past episode), editing_episode_id + editing_stamp (an edit)}.
STATE_KEY = "checkin"
TEXT_INPUT = "ck"  # free text during a check-in: the note, or a nudge back to the buttons
HISTORY_BUTTONS = 20  # episodes in /history that get edit/delete buttons (Telegram max is 100)
HISTORY_LINES = 40  # episodes listed in /history; the rest are counted
HISTORY_CHARS = 3300  # room left for the header, the hint and a "deleted" line
# Which step each draft button is valid on; anything else is a stale press.
VALID_STEPS = {
    "ck.i": ("intensity", "same"),
    "ck.sm": ("intensity",),
    "ck.w": ("intensity",),
    "ck.wp": ("when",),
    "ck.r": ("regions",),
    "ck.rd": ("regions",),
    "ck.d": ("duration",),
    "ck.t": ("triggers",),
    "ck.n": ("triggers",),
    "ck.s": ("triggers", "note"),
    "ck.b": ("when", "same", "regions", "duration", "triggers", "note"),
    "ck.x": ("intensity", "when", "same", "regions", "duration", "triggers", "note"),
}
BACK = {
    "when": "intensity",
    "same": "intensity",
    "regions": "intensity",
    "duration": "regions",
    "triggers": "duration",
    "note": "triggers",
}
Markup = InlineKeyboardMarkup


# ---------------------------------------------------------------------- entry points


async def start_checkin(
    update: Update,
    ctx: CoachContext,
    *,
    prefill_regions: list[str] | None = None,
    tried: list[str] | None = None,
) -> None:
    """Start a check-in as a new message in the user's chat; any older draft is dropped.

    For other features: relief calls this with the routine's region and the routines tried,
    and the episode is saved with source "relief". Unknown region ids are ignored.
    """
    assert update.effective_chat is not None
    user_id = user_id_of(update)
    await _retire_draft(ctx, user_id)
    profile = await ctx.store.get_profile(user_id) or {}
    choices = rules.choices_of(ctx.content.vocabulary)
    regions = [r for r in choices.regions if r in set(prefill_regions or [])]
    from_relief = prefill_regions is not None or tried is not None
    draft = rules.new_draft(
        ctx.services.clock.now(),
        profile.get("tz") or "UTC",
        regions=regions,
        tried=[str(t) for t in (tried or [])],
        source="relief" if from_relief else "checkin",
    )
    text, markup = await _render(ctx, user_id, draft)
    sent = await ctx.bot.send_message(update.effective_chat.id, text, reply_markup=markup)
    draft["message_id"] = sent.message_id
    await _put_draft(ctx, user_id, draft)


async def checkin_command(update: Update, ctx: CoachContext) -> None:
    """/checkin and the "Log an episode" menu button."""
    await start_checkin(update, ctx)


async def history_command(update: Update, ctx: CoachContext) -> None:
    """/history: the last 14 local days, each episode with edit and delete buttons."""
    assert update.effective_message is not None
    text, markup = await _history(ctx, user_id_of(update))
    await update.effective_message.reply_text(text, reply_markup=markup)


# ---------------------------------------------------------------------- state helpers


async def _put_draft(ctx: CoachContext, user_id: int, draft: dict[str, Any]) -> None:
    """Store the draft and claim free text for it, in one write."""

    await ctx.store.transact(
        user_id, lambda data: data.set_state({STATE_KEY: draft, AWAITING: {"kind": TEXT_INPUT}})
    )


def _drop_draft_in(data: UserData) -> None:
    """Inside a store transaction: forget the draft and our free-text claim."""
    ours_awaiting = (data.state(AWAITING) or {}).get("kind") == TEXT_INPUT
    data.clear_state(STATE_KEY, *([AWAITING] if ours_awaiting else []))


async def _drop_draft(ctx: CoachContext, user_id: int) -> None:
    await ctx.store.transact(user_id, _drop_draft_in)


async def _retire_message(ctx: CoachContext, user_id: int, message_id: int | None) -> None:
    """Take the buttons off an old check-in message (best effort: it may be gone)."""
    if message_id is None:
        return
    with contextlib.suppress(TelegramError):
        await ctx.bot.edit_message_reply_markup(user_id, message_id, reply_markup=None)


async def _retire_draft(ctx: CoachContext, user_id: int) -> bool:
    """Drop a draft in progress and its buttons; whether there was one."""
    draft = await ctx.store.get_state(user_id, STATE_KEY)
    if not draft:
        return False
    await _drop_draft(ctx, user_id)
    await _retire_message(ctx, user_id, draft.get("message_id"))
    return True


async def on_cancel(user_id: int, ctx: CoachContext) -> bool:
    """/cancel hook: forget the draft; nothing is stored."""
    return await _retire_draft(ctx, user_id)


# ---------------------------------------------------------------------- rendering


def _b(ctx: CoachContext, user_id: int, draft: dict[str, Any], route: str, *args: Any) -> str:
    return ctx.button(user_id, route, draft["nonce"], *args)


def _nav(ctx: CoachContext, user_id: int, draft: dict[str, Any]) -> list[tuple[str, str]]:
    row = [(ctx.t("checkin.cancel_button"), _b(ctx, user_id, draft, "ck.x"))]
    if draft["step"] in BACK:
        row.insert(0, (ctx.t("checkin.back_button"), _b(ctx, user_id, draft, "ck.b")))
    return row


def _mark(label: str, on: bool, sep: str = " ") -> str:
    return f"✓{sep}{label}" if on else label


def _when_text(ctx: CoachContext, episode: dict[str, Any]) -> str:
    """'today 14:05', 'yesterday 19:00' or 'Mon 17 Nov 09:00' on the episode's own clock."""
    v = rules.view(episode, ctx.content.vocabulary, ctx.services.clock.now())
    clock = v.local.strftime("%H:%M")
    if v.relative == "today":
        return ctx.t("checkin.when_today_at", time=clock)
    if v.relative == "yesterday":
        return ctx.t("checkin.when_yesterday_at", time=clock)
    return ctx.t("checkin.when_date_at", date=v.local.strftime("%a %d %b"), time=clock)


def _summary(ctx: CoachContext, episode: dict[str, Any]) -> str:
    v = rules.view(episode, ctx.content.vocabulary, ctx.services.clock.now())
    return ctx.t(
        "checkin.summary",
        when=_when_text(ctx, episode),
        intensity=v.intensity,
        details=html.escape(v.details),
    )


async def _previous(ctx: CoachContext, user_id: int) -> dict[str, Any] | None:
    episodes = await ctx.store.all(user_id, TABLE)
    choices = rules.choices_of(ctx.content.vocabulary)
    return rules.shortcut_fields(rules.last_episode(episodes), choices)


def _header(ctx: CoachContext, draft: dict[str, Any]) -> str:
    """A line above the question: which episode is being edited, or the past time chosen."""
    if draft.get("editing_episode_id"):
        return ctx.t("checkin.editing_line", when=_when_text(ctx, draft)) + "\n"
    when = draft.get("when")
    if when:
        key = "checkin.when_today" if when["day"] == 0 else "checkin.when_yesterday"
        part = ctx.t(f"checkin.part_{when['part']}")  # keys checked by tests/unit/test_checkin
        clock = rules.DAY_PARTS[when["part"]].strftime("%H:%M")
        return ctx.t("checkin.when_line", when=ctx.t(key, part=part, time=clock)) + "\n"
    return ""


async def _render(ctx: CoachContext, user_id: int, draft: dict[str, Any]) -> tuple[str, Markup]:
    """The text and buttons for the draft's current step."""
    vocab = ctx.content.vocabulary
    step = draft["step"]
    b = _b
    rows: list[list[tuple[str, str]]] = []
    if step in ("intensity", "same"):
        numbers = [
            (_mark(str(n), draft.get("intensity") == n, ""), b(ctx, user_id, draft, "ck.i", n))
            for n in range(rules.MAX_INTENSITY + 1)
        ]
        rows = [numbers[:6], numbers[6:]]
        if step == "same":
            v = rules.view(draft, vocab, ctx.services.clock.now())
            details = html.escape(v.details)
            if _is_past(draft):
                text = ctx.t("checkin.ask_same_past", details=details)
            else:
                text = ctx.t("checkin.ask_same", details=details)
        else:
            if _is_past(draft):
                text = ctx.t("checkin.ask_intensity_past")
            else:
                text = ctx.t("checkin.ask_intensity")
            if not draft.get("editing_episode_id"):
                if await _previous(ctx, user_id) is not None:
                    rows.append([(ctx.t("checkin.same_button"), b(ctx, user_id, draft, "ck.sm"))])
                if not draft.get("when"):
                    rows.append(_when_buttons(ctx, user_id, draft))
    elif step == "when":
        day = draft["when_day"]
        now = ctx.services.clock.now()
        parts = rules.available_parts(now, draft["tz"], day)
        text = ctx.t("checkin.ask_when_today" if day == 0 else "checkin.ask_when_yesterday")
        rows = chunk(
            [
                (
                    f"{ctx.t(f'checkin.part_{p}')} {rules.DAY_PARTS[p].strftime('%H:%M')}",
                    b(ctx, user_id, draft, "ck.wp", day, p),
                )
                for p in parts
            ],
            2,
        )
    elif step == "regions":
        past = _is_past(draft)
        text = ctx.t("checkin.ask_regions_past") if past else ctx.t("checkin.ask_regions")
        rows = chunk(
            [
                (_mark(c.label, c.id in draft["regions"]), b(ctx, user_id, draft, "ck.r", c.id))
                for c in vocab.regions
            ],
            2,
        )
        rows.append([(ctx.t("checkin.done_button"), b(ctx, user_id, draft, "ck.rd"))])
    elif step == "duration":
        text = ctx.t("checkin.ask_duration")
        rows = chunk(
            [
                (_mark(c.label, c.id == draft["duration"]), b(ctx, user_id, draft, "ck.d", c.id))
                for c in vocab.durations
            ],
            2,
        )
    elif step == "triggers":
        text = ctx.t("checkin.ask_triggers")
        rows = chunk(
            [
                (_mark(c.label, c.id in draft["triggers"]), b(ctx, user_id, draft, "ck.t", c.id))
                for c in vocab.triggers
            ],
            2,
        )
        rows.append(
            [
                (ctx.t("checkin.note_button"), b(ctx, user_id, draft, "ck.n")),
                (ctx.t("checkin.save_button"), b(ctx, user_id, draft, "ck.s")),
            ]
        )
    else:  # note
        text = ctx.t("checkin.ask_note")
        rows = [[(ctx.t("checkin.save_button"), b(ctx, user_id, draft, "ck.s"))]]
    rows.append(_nav(ctx, user_id, draft))
    if step in ("duration", "triggers", "note") and draft["regions"]:
        v = rules.view(draft, vocab, ctx.services.clock.now())
        text = f"{text}\n<i>{ctx.t('checkin.so_far', details=html.escape(v.details))}</i>"
    return _header(ctx, draft) + text, inline(rows)


def _is_past(draft: dict[str, Any]) -> bool:
    """A past episode (a time chosen with 🕐, or an edit) is asked about in the past tense."""
    return bool(draft.get("when") or draft.get("editing_episode_id"))


def _when_buttons(ctx: CoachContext, user_id: int, draft: dict[str, Any]) -> list[tuple[str, str]]:
    row = []
    if rules.available_parts(ctx.services.clock.now(), draft["tz"], 0):
        row.append((ctx.t("checkin.earlier_today_button"), _b(ctx, user_id, draft, "ck.w", 0)))
    row.append((ctx.t("checkin.yesterday_button"), _b(ctx, user_id, draft, "ck.w", 1)))
    return row


def _saved_view(
    ctx: CoachContext, user_id: int, episode: dict[str, Any], *, updated: bool = False
) -> tuple[str, Markup]:
    """The saved summary with Edit, Delete and an offer of relief."""
    key = "checkin.updated" if updated else "checkin.saved"
    lines = [ctx.t(key, summary=_summary(ctx, episode))]
    if episode.get("note"):
        lines.append(ctx.t("checkin.note_line", note=html.escape(episode["note"])))
    if "medicine_change" in episode.get("triggers", ()):
        lines.append(ctx.t("checkin.medicine_note"))  # never stop a medicine alone
    ref = (episode["id"], rules.stamp(episode))
    rows = [
        [
            (ctx.t("checkin.edit_button"), ctx.button(user_id, "ck.e", *ref, "s")),
            (ctx.t("checkin.delete_button"), ctx.button(user_id, "ck.dl", *ref, "s")),
        ]
    ]
    # Offer the relief routine for the one region, but only if the relief feature is there to
    # answer the button; otherwise point at the menu button.
    relief_ready = "menu.twitching_now" in ctx.services.menu_actions
    if relief_ready and len(episode["regions"]) == 1:
        region = episode["regions"][0]
        label = rules.labels_for([region], ctx.content.vocabulary.regions)[0]
        button = ctx.t("checkin.relief_button", region=label)
        rows.append([(button, ctx.button(user_id, "rl.start", region))])
    else:
        lines.append(ctx.t("checkin.relief_hint"))
    return "\n".join(lines), inline(rows)


# ---------------------------------------------------------------------- saving


async def _save(
    ctx: CoachContext, user_id: int, draft: dict[str, Any]
) -> tuple[dict[str, Any] | None, bool]:
    """Store the draft as an episode and drop the draft, in one atomic write.

    Returns (episode with id, was_edit), or (None, _) if the draft is no longer current or the
    episode being edited is gone (a stale press stores nothing).
    """
    now = ctx.services.clock.now()
    episode = dict(rules.build_episode(draft, now, rules.choices_of(ctx.content.vocabulary)))
    editing = draft.get("editing_episode_id")

    def op(data: UserData) -> tuple[dict[str, Any] | None, bool]:
        current = data.state(STATE_KEY) or {}
        if current.get("nonce") != draft["nonce"]:
            return None, False
        if editing:
            old = data.get(TABLE, editing)
            if old is None or rules.stamp(old) != draft.get("editing_stamp"):
                _drop_draft_in(data)
                return None, True
            fields = ("intensity", "regions", "duration", "triggers", "note")
            changes = {k: episode[k] for k in fields} | {"updated_at": episode["updated_at"]}
            data.update(TABLE, editing, changes)
            saved = data.get(TABLE, editing) or {"id": editing}
        else:
            doc_id = data.insert(TABLE, episode)
            saved = episode | {"id": doc_id}
        _drop_draft_in(data)
        return saved, bool(editing)

    return await ctx.store.transact(user_id, op)


# ---------------------------------------------------------------------- buttons


@button
async def on_button(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """Every "ck.*" button: decode, check it belongs to the current draft or episode, act."""
    user_id = user_id_of(update)
    try:
        if cb.route in VALID_STEPS:
            await _draft_button(update, ctx, user_id, cb)
        elif cb.route in ("ck.e", "ck.dl", "ck.dy", "ck.dn"):
            await _episode_button(update, ctx, user_id, cb)
        else:
            await query.answer(ctx.t("common.expired_button"))
    except (BadCallback, InvalidEpisode):
        await query.answer(ctx.t("checkin.expired"))


async def _draft_button(update: Update, ctx: CoachContext, user_id: int, cb: Callback) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    draft = await ctx.store.get_state(user_id, STATE_KEY)
    if (
        not draft
        or cb.arg(0) != draft.get("nonce")
        or draft.get("step") not in VALID_STEPS[cb.route]
        or query.message.message_id != draft.get("message_id")
    ):
        await query.answer(ctx.t("checkin.expired"))
        return
    choices = rules.choices_of(ctx.content.vocabulary)
    route, step = cb.route, draft["step"]
    if draft.get("editing_episode_id") and route in ("ck.sm", "ck.w"):
        raise BadCallback("not while editing")
    if route == "ck.x":
        await _drop_draft(ctx, user_id)
        await query.answer()
        await edit_or_send(query, ctx.t("checkin.cancelled"))
        return
    if route == "ck.i":
        draft["intensity"] = cb.int_arg(1, 0, rules.MAX_INTENSITY)
        if step == "same":  # the shortcut: the intensity was the last thing missing
            await _finish(update, ctx, user_id, draft)
            return
        draft["step"] = "regions"
    elif route == "ck.sm":
        copied = await _previous(ctx, user_id)
        if copied is None:
            raise BadCallback("nothing to copy")
        draft.update(copied, step="same", source="shortcut")
    elif route == "ck.w":
        day = cb.int_arg(1, 0, 1)
        if not rules.available_parts(ctx.services.clock.now(), draft["tz"], day):
            raise BadCallback("no earlier part of today yet")
        draft.update(step="when", when_day=day)
    elif route == "ck.wp":
        day, part = cb.int_arg(1, 0, 1), cb.arg(2)
        started = rules.past_start(ctx.services.clock.now(), draft["tz"], day, part)
        if started is None or day != draft.get("when_day"):
            raise BadCallback("not a past moment")
        draft.update(step="intensity", started_at=rules.to_iso(started))
        draft["when"] = {"day": day, "part": part}
    elif route == "ck.r":
        draft["regions"] = rules.toggle(draft["regions"], cb.arg(1), choices.regions)
    elif route == "ck.rd":
        if not draft["regions"]:
            await query.answer(ctx.t("checkin.need_region"), show_alert=True)
            return
        draft["step"] = "duration"
    elif route == "ck.d":
        duration = cb.arg(1)
        if duration not in choices.durations:
            raise BadCallback("unknown duration")
        draft.update(duration=duration, step="triggers")
    elif route == "ck.t":
        draft["triggers"] = rules.toggle(draft["triggers"], cb.arg(1), choices.triggers)
    elif route == "ck.n":
        draft["step"] = "note"
    elif route == "ck.s":
        await _finish(update, ctx, user_id, draft)
        return
    elif route == "ck.b":
        if step == "same":  # leaving the shortcut: forget what it copied
            draft.update(regions=[], duration=None, triggers=[], source="checkin")
        draft["step"] = BACK[step]
    await _put_draft(ctx, user_id, draft)
    await query.answer()
    text, markup = await _render(ctx, user_id, draft)
    await edit_or_send(query, text, reply_markup=markup)


async def _finish(update: Update, ctx: CoachContext, user_id: int, draft: dict[str, Any]) -> None:
    """Save from a button and turn the check-in message into the saved summary."""
    query = update.callback_query
    assert query is not None
    saved, was_edit = await _save(ctx, user_id, draft)
    if saved is None:
        await query.answer(ctx.t("checkin.gone" if was_edit else "checkin.expired"))
        if was_edit:
            await edit_or_send(query, ctx.t("checkin.gone"))
        return
    await query.answer()
    text, markup = _saved_view(ctx, user_id, saved, updated=was_edit)
    await edit_or_send(query, text, reply_markup=markup)


async def _own_episode(ctx: CoachContext, user_id: int, cb: Callback) -> dict[str, Any] | None:
    """The presser's episode the button names, if it still exists and is the same one."""
    episode_id = cb.int_arg(0, 1, 10**9)
    episode = await ctx.store.get(user_id, TABLE, episode_id)
    if episode is None or rules.stamp(episode) != cb.arg(1):
        return None
    return episode


async def _episode_button(update: Update, ctx: CoachContext, user_id: int, cb: Callback) -> None:
    """Edit / delete / confirm / keep, from the saved summary ("s") or /history ("h")."""
    query = update.callback_query
    assert query is not None and query.message is not None
    source = cb.arg(2)
    if source not in ("s", "h"):
        raise BadCallback("unknown source")
    episode = await _own_episode(ctx, user_id, cb)
    if episode is None:
        await query.answer(ctx.t("checkin.gone"))
        return
    ref = (episode["id"], rules.stamp(episode), source)
    if cb.route == "ck.e":
        await _retire_draft(ctx, user_id)
        draft = rules.new_draft(
            ctx.services.clock.now(),
            episode["tz"],
            **{k: episode[k] for k in ("intensity", "regions", "duration", "triggers", "note")},
            tried=list(episode.get("tried") or []),
            source=episode.get("source", "checkin"),
            started_at=episode["started_at"],
            editing_episode_id=episode["id"],
            editing_stamp=rules.stamp(episode),
            message_id=query.message.message_id,
        )
        await _put_draft(ctx, user_id, draft)
        await query.answer()
        text, markup = await _render(ctx, user_id, draft)
        await edit_or_send(query, text, reply_markup=markup)
    elif cb.route == "ck.dl":
        await query.answer()
        markup = inline(
            [
                [
                    (ctx.t("checkin.delete_yes_button"), ctx.button(user_id, "ck.dy", *ref)),
                    (ctx.t("checkin.delete_no_button"), ctx.button(user_id, "ck.dn", *ref)),
                ]
            ]
        )
        text = ctx.t("checkin.confirm_delete", summary=_summary(ctx, episode))
        await edit_or_send(query, text, reply_markup=markup)
    elif cb.route == "ck.dy":
        await ctx.store.remove(user_id, TABLE, episode["id"])
        await query.answer()
        deleted = ctx.t("checkin.deleted", summary=_summary(ctx, episode))
        if source == "h":
            text, markup = await _history(ctx, user_id)
            await edit_or_send(query, f"{deleted}\n\n{text}", reply_markup=markup)
        else:
            await edit_or_send(query, deleted)
    else:  # ck.dn: keep it, show what was there before
        await query.answer()
        if source == "h":
            text, markup = await _history(ctx, user_id)
        else:
            text, markup = _saved_view(ctx, user_id, episode)
        await edit_or_send(query, text, reply_markup=markup)


# ---------------------------------------------------------------------- free text


async def on_text(update: Update, ctx: CoachContext, text: str, _state: dict[str, Any]) -> None:
    """Text during a check-in: the note on the note step, otherwise a nudge to the buttons."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    draft = await ctx.store.get_state(user_id, STATE_KEY)
    if not draft:
        await ctx.store.clear_state(user_id, AWAITING)
        await message.reply_text(ctx.t("common.unknown_text"), reply_markup=main_menu(ctx.content))
        return
    if draft["step"] != "note":
        # The buttons may have scrolled away: show the step again below and retire the old one.
        await _retire_message(ctx, user_id, draft.get("message_id"))
        body, markup = await _render(ctx, user_id, draft)
        sent = await message.reply_text(f"{ctx.t('checkin.nudge')}\n\n{body}", reply_markup=markup)
        draft["message_id"] = sent.message_id
        await _put_draft(ctx, user_id, draft)
        return
    try:
        draft["note"] = rules.clean_note(text)
    except NoteProblem as problem:
        if problem.reason == "too_long":
            await message.reply_text(ctx.t("checkin.note_too_long", length=problem.length))
        else:
            await message.reply_text(ctx.t("checkin.note_empty"))
        return
    saved, was_edit = await _save(ctx, user_id, draft)
    await _retire_message(ctx, user_id, draft.get("message_id"))
    if saved is None:
        await message.reply_text(ctx.t("checkin.gone" if was_edit else "checkin.expired"))
        return
    body, markup = _saved_view(ctx, user_id, saved, updated=was_edit)
    await message.reply_text(body, reply_markup=markup)


# ---------------------------------------------------------------------- history


def _history_lines(ctx: CoachContext, groups: list[DayGroup]) -> tuple[list[str], list[Any]]:
    """Day headings and numbered lines, newest first, stopping at HISTORY_LINES episodes or
    HISTORY_CHARS characters (a Telegram message holds 4096)."""
    lines: list[str] = []
    shown: list[dict[str, Any]] = []
    vocab, now = ctx.content.vocabulary, ctx.services.clock.now()
    size = 0
    for group in groups:
        date = group.day.strftime("%a %d %b")
        heading = (
            ctx.t("checkin.history_day_today", date=date)
            if group.relative == "today"
            else ctx.t("checkin.history_day_yesterday", date=date)
            if group.relative == "yesterday"
            else ctx.t("checkin.history_day_earlier", date=date)
        )
        block = ["", heading]
        for episode in group.episodes:
            v = rules.view(episode, vocab, now)
            line = ctx.t(
                "checkin.history_line",
                number=len(shown) + 1,
                time=v.local.strftime("%H:%M"),
                intensity=v.intensity,
                details=html.escape(v.details),
            )
            cost = len(line) + 1 + sum(len(b) + 1 for b in block)  # heading on the day's first
            if len(shown) >= HISTORY_LINES or size + cost > HISTORY_CHARS:
                return lines, shown
            if block:
                lines += block
                block = []
            lines.append(line)
            shown.append(episode)
            size += cost
    return lines, shown


async def _history(ctx: CoachContext, user_id: int) -> tuple[str, Markup | None]:
    """The /history text and its numbered edit/delete buttons."""
    profile = await ctx.store.get_profile(user_id) or {}
    episodes = await ctx.store.all(user_id, TABLE)
    groups = rules.group_by_local_day(
        episodes, ctx.services.clock.now(), profile.get("tz") or "UTC"
    )
    if not groups:
        return ctx.t("checkin.history_empty"), None
    lines, shown = _history_lines(ctx, groups)
    total = sum(len(g.episodes) for g in groups)
    if total > len(shown):
        lines.append(ctx.t("checkin.history_more", count=total - len(shown)))
    lines += ["", ctx.t("checkin.history_hint")]
    buttons = []
    for number, episode in enumerate(shown[:HISTORY_BUTTONS], start=1):
        ref = (episode["id"], rules.stamp(episode), "h")
        buttons.append(
            (ctx.t("checkin.edit_number_button", number=number), ctx.button(user_id, "ck.e", *ref))
        )
        buttons.append(
            (
                ctx.t("checkin.delete_number_button", number=number),
                ctx.button(user_id, "ck.dl", *ref),
            )
        )
    return "\n".join([ctx.t("checkin.history_header"), *lines]), inline(chunk(buttons, 4))


@button
async def on_log_after_relief(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """ "Log this episode" at the end of a relief routine: region and routine come prefilled."""
    region, routine_id = callback.arg(0), callback.arg(1)
    known_region = any(r.id == region for r in ctx.content.vocabulary.regions)
    if not known_region or ctx.content.relief.get(routine_id) is None:
        await query.answer(ctx.t("common.expired_button"))
        return
    await query.answer()
    await start_checkin(update, ctx, prefill_regions=[region], tried=[routine_id])


def register(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    services = app.bot_data["services"]
    services.text_inputs[TEXT_INPUT] = on_text
    services.menu_actions["menu.log_episode"] = checkin_command
    services.cancel_hooks.append(on_cancel)
    app.add_handler(CommandHandler("checkin", checkin_command))
    app.add_handler(CommandHandler("history", history_command))
    # Before the catch-all below: this one is pressed on a relief message, not a draft.
    app.add_handler(CallbackQueryHandler(on_log_after_relief, pattern=route_pattern("ck.new")))
    app.add_handler(CallbackQueryHandler(on_button, pattern=feature_pattern("ck")))
