"""/factors: the person's own yes/no day factors (add, rename, move up, archive) and hiding
built-in ones, so the diary never shows more than a handful of toggles.

Routes: df.a add; df.o <id> one own factor; df.n <id> rename; df.u <id> move up;
df.x <id> archive; df.h <index> <0|1> show or hide a built-in factor; df.l the list.
Free text: ``dy.add`` (a new name) and ``dy.rename`` (a new name for factor ``id``).
"""

from __future__ import annotations

import html
from typing import Any

from telegram import CallbackQuery, Update

from bot.domain import diary
from bot.storage import UserData
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.common import button, clear_awaiting, edit_or_send, set_awaiting, user_id_of
from bot.telegram.context import CoachContext
from bot.telegram.diary.shared import builtin_factors
from bot.telegram.keyboards import inline

ADD_INPUT = "dy.add"
RENAME_INPUT = "dy.rename"


def _panel(ctx: CoachContext, uid: int, data: UserData) -> tuple[str, Any]:
    t = ctx.t
    own = diary.active_own(data.all(diary.FACTORS_TABLE))
    hidden = set((data.profile() or {}).get("diary_hidden") or ())
    lines = [t("diary.factors", max=diary.MAX_OWN_FACTORS, visible=diary.MAX_VISIBLE_FACTORS)]
    if not own:
        lines.append(t("diary.factors_none"))
    rows = [[(str(doc["name"]), ctx.button(uid, "df.o", doc["id"]))] for doc in own]
    if len(own) < diary.MAX_OWN_FACTORS:
        rows.append([(t("diary.add_button"), ctx.button(uid, "df.a"))])
    for index, factor in enumerate(builtin_factors(ctx.content)):
        shown = factor.id not in hidden
        key = "diary.builtin_shown" if shown else "diary.builtin_hidden"
        rows.append([(t(key, name=factor.label), ctx.button(uid, "df.h", index, int(shown)))])
    return "\n".join(lines), inline(rows)


async def _panel_now(ctx: CoachContext, uid: int) -> tuple[str, Any]:
    return await ctx.store.transact(uid, lambda data: _panel(ctx, uid, data))


async def send_factors_panel(update: Update, ctx: CoachContext) -> None:
    """/factors, and the "My factors" button under the diary (a new message: the diary stays)."""
    message = update.effective_message
    assert message is not None
    text, keyboard = await _panel_now(ctx, user_id_of(update))
    await message.reply_text(text, reply_markup=keyboard)


def _detail(ctx: CoachContext, uid: int, doc: dict[str, Any]) -> tuple[str, Any]:
    fid = doc["id"]
    rows = [
        [
            (ctx.t("diary.rename_button"), ctx.button(uid, "df.n", fid)),
            (ctx.t("diary.up_button"), ctx.button(uid, "df.u", fid)),
        ],
        [
            (ctx.t("diary.archive_button"), ctx.button(uid, "df.x", fid)),
            (ctx.t("diary.back_button"), ctx.button(uid, "df.l")),
        ],
    ]
    return ctx.t("diary.factor_detail", name=html.escape(str(doc["name"]))), inline(rows)


def _live_factor(data: UserData, doc_id: int) -> dict[str, Any]:
    doc = data.get(diary.FACTORS_TABLE, doc_id)
    if doc is None or doc.get("archived"):
        raise BadCallback("no such factor (archived or forged)")
    return doc


@button
async def on_factors_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    uid = user_id_of(update)
    route = callback.route
    now = ctx.services.clock.now().isoformat()
    if route == "df.l":
        await query.answer()
        text, keyboard = await _panel_now(ctx, uid)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    if route == "df.a":
        await set_awaiting(ctx, uid, ADD_INPUT)
        await query.answer()
        await edit_or_send(query, ctx.t("diary.add_prompt", max=diary.MAX_FACTOR_CHARS))
        return
    if route == "df.h":
        builtin = builtin_factors(ctx.content)
        factor = builtin[callback.int_arg(0, 0, len(builtin) - 1)]
        hide = bool(callback.int_arg(1, 0, 1))

        def toggle(data: UserData) -> tuple[str, Any]:
            profile = data.profile()
            if profile is None:
                raise BadCallback("no profile")
            hidden = [h for h in profile.get("diary_hidden") or () if h != factor.id]
            if hide:
                hidden.append(factor.id)
            if hidden != list(profile.get("diary_hidden") or ()):
                data.update_profile({"diary_hidden": hidden})
            return _panel(ctx, uid, data)

        text, keyboard = await ctx.store.transact(uid, toggle)
        await query.answer(ctx.t("diary.hidden" if hide else "diary.shown"))
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    doc_id = callback.int_arg(0, 1, 10**9)
    if route == "df.o":
        doc = await ctx.store.transact(uid, lambda data: _live_factor(data, doc_id))
        await query.answer()
        text, keyboard = _detail(ctx, uid, doc)
    elif route == "df.n":
        doc = await ctx.store.transact(uid, lambda data: _live_factor(data, doc_id))
        await set_awaiting(ctx, uid, RENAME_INPUT, id=doc_id)
        await query.answer()
        await edit_or_send(query, ctx.t("diary.rename_prompt", name=html.escape(doc["name"])))
        return
    elif route == "df.u":

        def move(data: UserData) -> tuple[str, Any]:
            _live_factor(data, doc_id)
            for fid, position in diary.move_up(data.all(diary.FACTORS_TABLE), doc_id).items():
                data.update(diary.FACTORS_TABLE, fid, {"position": position})
            return _panel(ctx, uid, data)

        text, keyboard = await ctx.store.transact(uid, move)
        await query.answer()
    elif route == "df.x":

        def archive(data: UserData) -> tuple[dict[str, Any], tuple[str, Any]]:
            doc = _live_factor(data, doc_id)
            data.update(diary.FACTORS_TABLE, doc_id, {"archived": True, "archived_at": now})
            return doc, _panel(ctx, uid, data)

        doc, (text, keyboard) = await ctx.store.transact(uid, archive)
        await query.answer(ctx.t("diary.archived", name=doc["name"]))
    else:
        raise BadCallback("unknown route")
    await edit_or_send(query, text, reply_markup=keyboard)


def _problem_text(ctx: CoachContext, problem: str, name: str) -> str:
    return {
        "empty": lambda: ctx.t("diary.factor_empty"),
        "too_long": lambda: ctx.t(
            "diary.factor_too_long", length=len(name), max=diary.MAX_FACTOR_CHARS
        ),
        "duplicate": lambda: ctx.t("diary.factor_duplicate", name=html.escape(name)),
        "too_many": lambda: ctx.t("diary.factor_too_many", max=diary.MAX_OWN_FACTORS),
    }[problem]()


async def on_factor_text(
    update: Update, ctx: CoachContext, text: str, state: dict[str, Any]
) -> None:
    """A typed name for a new factor, or a new name for one (cleaned and checked first)."""
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    name = diary.clean_factor_name(text)
    renaming = int(state.get("id") or 0) if state.get("kind") == RENAME_INPUT else 0
    builtin = builtin_factors(ctx.content)
    now = ctx.services.clock.now().isoformat()

    def save(data: UserData) -> tuple[str | None, tuple[str, Any] | None]:
        own = data.all(diary.FACTORS_TABLE)
        if renaming and not any(d["id"] == renaming and not d.get("archived") for d in own):
            return "gone", None
        problem = diary.factor_name_problem(name, own, builtin, renaming=renaming)
        if problem is not None:
            return problem, None
        if renaming:
            data.update(diary.FACTORS_TABLE, renaming, {"name": name, "renamed_at": now})
        else:
            data.insert(
                diary.FACTORS_TABLE,
                {
                    "name": name,
                    "position": diary.next_position(own),
                    "archived": False,
                    "created_at": now,
                },
            )
        return None, _panel(ctx, uid, data)

    problem, panel = await ctx.store.transact(uid, save)
    if problem == "gone":
        await clear_awaiting(ctx, uid)
        await message.reply_text(ctx.t("common.expired_button"))
        return
    if problem is not None or panel is None:
        await message.reply_text(_problem_text(ctx, problem or "empty", name))
        return  # still waiting for a name; /cancel leaves
    await clear_awaiting(ctx, uid)
    key = "diary.renamed" if renaming else "diary.factor_added"
    text, keyboard = panel
    await message.reply_text(
        "\n\n".join([ctx.t(key, name=html.escape(name)), text]), reply_markup=keyboard
    )
