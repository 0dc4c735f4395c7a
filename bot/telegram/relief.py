"""Relief right now: "Twitching now" / /relief -> where? -> a guided routine -> "how is it now?".

Flow: the menu button (tap 1) shows the body regions; a region (tap 2) starts the routine ranked
first for this person and region (bot/domain/relief.py documents the rule). The routine runs one
step at a time in ONE message, with Next / Skip / Stop; a routine done standing offers its seated
version on the first step. A button press edits the message in place. A timed step moves on by
itself through a JobQueue job (never a sleep in a handler), and then the next step comes as a
NEW message headed "✓ Time's up" (Telegram does not notify on edits) and the old one is deleted,
so the phone signals the end of a hold and the chat keeps one routine message; the state keeps
the replaced message ids, so a press that still comes from one is stale. At the end: "log this
episode" (route ck.new, handled by the check-in feature) and "try another routine". A follow-up
"how is the twitching now?" comes N minutes later (profile ``relief_followup_minutes``, 5-30,
default 10), is sent at most once, and its answer is stored on the run.

Records: table "relief_runs" (the shared contract in the brief) holds every run; the flow state
key "relief" holds the run in progress: {run_id, step, message_id, hold_due_at, old_message_ids}.
At start the timers are rebuilt from those two (in a job, so polling does not wait for the scan).

Routes (prefix rl): rl.start [region] (new message; other features may link to it),
rl.reg region, rl.go region routine, rl.nx / rl.sk / rl.st run step, rl.oth run, rl.fd run,
rl.fm run minutes, rl.fu run outcome. Every button is checked against the stored run: a stale
one gets a short answer and changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.domain import relief as domain
from bot.domain.relief import Library, Routine
from bot.telegram.callbacks import BadCallback, Callback, route_pattern
from bot.telegram.common import button, user_id_of
from bot.telegram.context import CoachContext, Services
from bot.telegram.delivery import deliver, mark_inactive
from bot.telegram.jobs import user_job_name
from bot.telegram.keyboards import chunk, inline

log = logging.getLogger(__name__)

RUNS = "relief_runs"
TIMER_FIELD = "relief_timer_due"  # profile + index: the latest instant a timer was set for
STATE = "relief"
LIBRARY, RNG, LOCKS = "relief_library", "relief_rng", "relief_locks"
_LOCK_STRIPES = 256
_MAX_ID = 10**9
# APScheduler skips a job that starts >1 s late by default; a late timer must still run.
_JOB_KWARGS = {"misfire_grace_time": None, "coalesce": True}

AnyApp = Application[Any, Any, Any, Any, Any, Any]


# --------------------------------------------------------------------------- small helpers


def _library(ctx: CoachContext) -> Library:
    return ctx.bot_data[LIBRARY]


def _scale(ctx: CoachContext) -> float:
    return ctx.services.settings.time_scale


def _lock(ctx: CoachContext, uid: int) -> asyncio.Lock:
    # Handlers and timer jobs of one person take turns on their relief state (a hold ending
    # while they press Next must not advance twice).
    return ctx.bot_data[LOCKS][uid % _LOCK_STRIPES]


def _now(ctx: CoachContext) -> datetime:
    return ctx.services.clock.now()


def _iso(value: datetime) -> str:
    return value.isoformat()


def _region_label(ctx: CoachContext, region: str) -> str:
    vocab = ctx.content.vocabulary
    return html.escape(vocab.label(vocab.regions, region))


def _known_region(ctx: CoachContext, region: str) -> bool:
    return any(c.id == region for c in ctx.content.vocabulary.regions)


async def _answers(ctx: CoachContext, uid: int) -> dict[str, list[tuple[str, str]]]:
    """This person's answered follow-ups as region -> [(routine_id, outcome)]."""
    runs = await ctx.store.all(uid, RUNS)
    by_region: dict[str, list[tuple[str, str]]] = {}
    for run in runs:
        if run.get("outcome"):
            by_region.setdefault(run["region"], []).append((run["routine_id"], run["outcome"]))
    return by_region


async def _edit(
    ctx: CoachContext, uid: int, message_id: int | None, text: str, markup: Any = None
) -> int | None:
    """Edit the routine's one message; if that fails (deleted, too old) send a new one.

    Returns the id of the message now showing the routine, or None if nobody can be reached.
    """
    if message_id is not None:
        try:
            await ctx.bot.edit_message_text(
                text, chat_id=uid, message_id=message_id, reply_markup=markup
            )
            return message_id
        except Forbidden:
            await mark_inactive(ctx.store, uid)
            return None
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return message_id
            log.info("could not edit a relief message (%s); sending a new one", type(exc).__name__)
    sent = await deliver(ctx.bot, ctx.store, uid, text, reply_markup=markup)
    return sent.message_id if sent else None


def _schedule(ctx: CoachContext, name: str, callback: Any, seconds: float, data: Any) -> None:
    """One job per name: replace an earlier one of the same name."""
    queue = ctx.application.job_queue
    assert queue is not None  # the job-queue extra is a dependency
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()
    queue.run_once(callback, when=max(0.0, seconds), data=data, name=name, job_kwargs=_JOB_KWARGS)


async def _remember_timer(ctx: CoachContext, uid: int, due: datetime) -> None:
    """Note in the profile (and so in the store's index) until when a timer may be pending, so
    the start-up rebuild reads only the files of people with one, not every user's file."""
    profile = await ctx.store.get_profile(uid) or {}
    latest = profile.get(TIMER_FIELD)
    if latest is None or datetime.fromisoformat(latest) < due:
        await ctx.store.update_profile(uid, {TIMER_FIELD: _iso(due)})


def _unschedule(ctx: CoachContext, name: str) -> None:
    queue = ctx.application.job_queue
    assert queue is not None
    for job in queue.get_jobs_by_name(name):
        job.schedule_removal()


def _hold_job_name(uid: int) -> str:
    return user_job_name("rl.hold", uid)


def _followup_job_name(uid: int) -> str:
    # One pending follow-up per person: a newer routine replaces the older one's.
    return user_job_name("rl.fu", uid)


# --------------------------------------------------------------------------- views


def _region_keyboard(ctx: CoachContext, uid: int, route: str) -> InlineKeyboardMarkup:
    buttons = [(c.label, ctx.button(uid, route, c.id)) for c in ctx.content.vocabulary.regions]
    return inline(chunk(buttons, 2))


def step_text(t: Callable[..., str], routine: Routine, index: int, note: str | None = None) -> str:
    """The text of one step as the person reads it (``t`` is ``Content.t``)."""
    step = routine.steps[index]
    parts = [
        t(
            "relief.step_header",
            title=html.escape(routine.title),
            number=index + 1,
            total=len(routine.steps),
        ),
        html.escape(step.text),
    ]
    timer = domain.timer_message(step)
    if timer is not None:
        key, values = timer
        parts.append(t(key, **values))
    if note:
        parts.append(note)
    parts.append("<i>" + html.escape(" ".join(routine.safety)) + "</i>")
    return "\n\n".join(parts)


def _step_view(
    ctx: CoachContext,
    uid: int,
    run_id: int,
    routine: Routine,
    index: int,
    note: str | None = None,
    offers: list[list[tuple[str, str]]] | None = None,
) -> tuple[str, InlineKeyboardMarkup]:
    rows = [
        [
            (ctx.t("relief.next_button"), ctx.button(uid, "rl.nx", run_id, index)),
            (ctx.t("relief.skip_button"), ctx.button(uid, "rl.sk", run_id, index)),
            (ctx.t("relief.stop_button"), ctx.button(uid, "rl.st", run_id, index)),
        ]
    ]
    rows += offers or []
    return step_text(ctx.t, routine, index, note), inline(rows)


def _end_view(
    ctx: CoachContext, uid: int, run: dict[str, Any], routine: Routine, minutes: int
) -> tuple[str, InlineKeyboardMarkup]:
    title = html.escape(routine.title)
    if run["status"] == "finished":
        text = ctx.t("relief.finished", title=title, minutes=minutes)
    else:
        text = ctx.t("relief.stopped", title=title, minutes=minutes)
    rows = [
        # Handled by the check-in feature: start a check-in with this region and routine filled in.
        [(ctx.t("relief.log_button"), ctx.button(uid, "ck.new", run["region"], routine.id))],
        [(ctx.t("relief.another_button"), ctx.button(uid, "rl.oth", run["id"]))],
        [(ctx.t("relief.change_delay_button"), ctx.button(uid, "rl.fd", run["id"]))],
    ]
    return text, inline(rows)


def _outcome_label(ctx: CoachContext, outcome: str) -> str:
    labels = {
        "much_better": ctx.t("relief.much_better"),
        "a_bit_better": ctx.t("relief.a_bit_better"),
        "same": ctx.t("relief.same"),
        "worse": ctx.t("relief.worse"),
    }
    return labels[outcome]


# --------------------------------------------------------------------------- entry


async def relief_entry(update: Update, ctx: CoachContext) -> None:
    """The "Twitching now" button and /relief: where is it twitching? (plus "your best so far")."""
    message = update.effective_message
    assert message is not None
    uid = user_id_of(update)
    await message.reply_text(
        await _region_prompt(ctx, uid), reply_markup=_region_keyboard(ctx, uid, "rl.reg")
    )


async def _region_prompt(ctx: CoachContext, uid: int) -> str:
    answers = await _answers(ctx, uid)
    lines = [ctx.t("relief.ask_region")]
    library = _library(ctx)
    for choice in ctx.content.vocabulary.regions:
        if choice.id not in answers:
            continue
        best = domain.best_so_far(library.for_region(choice.id), answers[choice.id])
        if best is not None:
            lines.append(
                ctx.t(
                    "relief.best_line",
                    region=_region_label(ctx, choice.id),
                    title=html.escape(best.title),
                )
            )
    return "\n".join(lines[:4])


@button
async def on_start_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback
) -> None:
    """rl.start [region]: from another feature's message; always answers with a new message."""
    uid = user_id_of(update)
    if not cb.args:
        await query.answer()
        await ctx.bot.send_message(
            uid, await _region_prompt(ctx, uid), reply_markup=_region_keyboard(ctx, uid, "rl.reg")
        )
        return
    region = cb.args[0]
    if not _known_region(ctx, region):
        await query.answer(ctx.t("common.expired_button"))
        return
    await query.answer()
    await _start_ranked(ctx, uid, region, message_id=None)


@button
async def on_region(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """rl.reg region: the region picker turns into the first step of the best routine."""
    region = cb.args[0] if cb.args else ""
    if not _known_region(ctx, region):
        await query.answer(ctx.t("common.expired_button"))
        return
    uid = user_id_of(update)
    message_id = _message_id(update)
    if await _shows_running_step(ctx, uid, message_id, allow_best_offer=False):
        await query.answer(ctx.t("relief.moved_on"))  # a double tap on the picker
        return
    await query.answer()
    await _start_ranked(ctx, uid, region, message_id=message_id)


@button
async def on_go(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """rl.go region routine: start a chosen routine ("try another", "my best instead")."""
    region = cb.args[0] if cb.args else ""
    routine = _library(ctx).get(cb.args[1]) if len(cb.args) > 1 else None
    if routine is None or not _known_region(ctx, region) or region not in routine.regions:
        await query.answer(ctx.t("common.expired_button"))
        return
    uid = user_id_of(update)
    message_id = _message_id(update)
    # On a routine in progress only "⭐ <best> instead" may start another, and only while shown.
    if await _shows_running_step(ctx, uid, message_id, allow_best_offer=True):
        await query.answer(ctx.t("relief.moved_on"))
        return
    await query.answer()
    await _start(ctx, uid, region, routine, message_id=message_id)


async def _shows_running_step(
    ctx: CoachContext, uid: int, message_id: int | None, *, allow_best_offer: bool
) -> bool:
    """Whether this message already shows a routine in progress (so an older press is stale)."""
    state = await ctx.store.get_state(uid, STATE)
    if not state or message_id is None:
        return False
    if message_id in (state.get("old_message_ids") or ()):
        return True  # an earlier message of the routine in progress (replaced at a timer's end)
    if state.get("message_id") != message_id:
        return False
    return not (allow_best_offer and state.get("best_offer"))


async def _start_ranked(ctx: CoachContext, uid: int, region: str, message_id: int | None) -> None:
    library = _library(ctx)
    candidates = library.for_region(region)
    answers = (await _answers(ctx, uid)).get(region, [])
    ranked = domain.rank(candidates, answers, rng=ctx.bot_data[RNG])
    best = domain.best_so_far(candidates, answers)
    first = ranked[0]
    note: str | None = None
    offers: list[list[tuple[str, str]]] = []
    if best is not None and best.id == first.id:
        note = ctx.t("relief.best_badge")
    elif best is not None:
        # Exploring something untried: say so, and keep their best one tap away.
        note = ctx.t("relief.new_try", title=html.escape(best.title))
        label = ctx.t("relief.best_instead_button", title=best.title)
        offers.append([(label, ctx.button(uid, "rl.go", region, best.id))])
    await _start(ctx, uid, region, first, message_id=message_id, note=note, offers=offers)


async def _start(
    ctx: CoachContext,
    uid: int,
    region: str,
    routine: Routine,
    *,
    message_id: int | None,
    note: str | None = None,
    offers: list[list[tuple[str, str]]] | None = None,
) -> None:
    """Record a new run (ending whatever was in progress) and show its first step.

    ``offers`` are rows of other routines to start instead ("⭐ <best> instead"); a routine done
    standing always offers its seated alternative.
    """
    offers = list(offers or [])
    seated = _library(ctx).get(routine.seated_alternative or "")
    if seated is not None and region in seated.regions:
        label = ctx.t("relief.seated_button", title=seated.title)
        offers.append([(label, ctx.button(uid, "rl.go", region, seated.id))])
    async with _lock(ctx, uid):
        await _supersede(ctx, uid)
        now = _now(ctx)
        run_id = await ctx.store.insert(
            uid,
            RUNS,
            {
                "routine_id": routine.id,
                "region": region,
                "started_at": _iso(now),
                "ended_at": None,
                "status": "running",
                "followup_due_at": None,
                "followup_sent_at": None,
                "outcome": None,
                "answered_at": None,
            },
        )
        text, markup = _step_view(ctx, uid, run_id, routine, 0, note=note, offers=offers)
        await _show_step(
            ctx, uid, run_id, routine, 0, message_id, text, markup, offers=bool(offers)
        )


async def _supersede(ctx: CoachContext, uid: int) -> None:
    """A new routine starts: stop the one in progress and drop any follow-up not yet sent.

    Caller holds the lock. Stopped this way, a run gets no follow-up of its own: the newer
    routine's follow-up asks about the twitching instead.
    """
    now = _iso(_now(ctx))
    for run in await ctx.store.all(uid, RUNS):
        if run["status"] == "running":
            await ctx.store.update(uid, RUNS, run["id"], {"status": "stopped", "ended_at": now})
        elif run.get("followup_due_at") and not run.get("followup_sent_at"):
            await ctx.store.update(uid, RUNS, run["id"], {"followup_due_at": None})
    await ctx.store.clear_state(uid, STATE)
    _unschedule(ctx, _hold_job_name(uid))
    _unschedule(ctx, _followup_job_name(uid))


async def _show_step(
    ctx: CoachContext,
    uid: int,
    run_id: int,
    routine: Routine,
    index: int,
    message_id: int | None,
    text: str,
    markup: InlineKeyboardMarkup,
    *,
    offers: bool = False,
    old_message_ids: Sequence[int] = (),
    signal: bool = False,
) -> None:
    """Record which step is showing (and when its timer ends), arm the timer, then show it.

    The state is written before the person sees the step, so a button on it always finds the
    step it belongs to. Caller holds the lock, so the timer cannot run before this ends.
    ``signal``: a timer just ended, so the step comes as a new message (see ``_replace``).
    """
    delay = domain.hold_delay(routine.steps[index], _scale(ctx))
    due = None if delay is None else _iso(_now(ctx) + timedelta(seconds=delay))
    state: dict[str, Any] = {
        "run_id": run_id,
        "step": index,
        "message_id": message_id,
        "hold_due_at": due,
    }
    if offers:
        state["best_offer"] = True  # this step offers another routine ("⭐ best", "🪑 seated")
    if old_message_ids:
        state["old_message_ids"] = list(old_message_ids)
    await ctx.store.set_state(uid, STATE, state)
    if delay is None:
        _unschedule(ctx, _hold_job_name(uid))
    else:
        _schedule(ctx, _hold_job_name(uid), _hold_done, delay, (uid, run_id, index))
        await _remember_timer(ctx, uid, _now(ctx) + timedelta(seconds=delay))
    show = _send_new if signal else _edit
    shown = await show(ctx, uid, message_id, text, markup)
    if shown != message_id:  # a new message: the old one's buttons are stale from now on
        old = [*old_message_ids, message_id] if message_id is not None else old_message_ids
        await ctx.store.set_state(
            uid, STATE, {**state, "message_id": shown, "old_message_ids": list(old)}
        )
        if signal:
            await _retire_message(ctx, uid, message_id)


async def _send_new(
    ctx: CoachContext, uid: int, message_id: int | None, text: str, markup: Any = None
) -> int | None:
    """Show the routine in a NEW message (the caller then retires the old one).

    Telegram does not notify on an edit, so a person holding a stretch with the phone on the
    table would not notice the time is up; a new message makes the phone signal. If nothing can
    be sent, the old message is edited instead.
    """
    sent = await deliver(ctx.bot, ctx.store, uid, text, reply_markup=markup)
    if sent is None:
        return await _edit(ctx, uid, message_id, text, markup)
    return sent.message_id


async def _retire_message(ctx: CoachContext, uid: int, message_id: int | None) -> None:
    """Delete a replaced routine message, so one routine message stays in the chat. If it cannot
    be deleted (already gone, too old), its buttons are taken off instead."""
    if message_id is None:
        return
    try:
        await ctx.bot.delete_message(uid, message_id)
    except TelegramError:
        with contextlib.suppress(TelegramError):
            await ctx.bot.edit_message_reply_markup(uid, message_id, reply_markup=None)


# --------------------------------------------------------------------------- the guided run


@button
async def on_step_button(
    update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback
) -> None:
    """Next / Skip / Stop on a step. Only the step showing now counts; older presses are stale."""
    uid = user_id_of(update)
    run_id = cb.int_arg(0, 1, _MAX_ID)
    index = cb.int_arg(1, 0, 50)
    async with _lock(ctx, uid):
        state = await ctx.store.get_state(uid, STATE)
        run = await ctx.store.get(uid, RUNS, run_id)
        if run is None:
            await query.answer(ctx.t("common.expired_button"))
            return
        if not state or state.get("run_id") != run_id or run["status"] != "running":
            await query.answer(ctx.t("relief.ended"))
            return
        if state.get("step") != index:
            await query.answer(ctx.t("relief.moved_on"))
            return
        routine = _library(ctx).get(run["routine_id"])
        if routine is None:  # content removed since the run started
            await query.answer(ctx.t("relief.ended"))
            await _finish(ctx, uid, run, state, "stopped", None)
            return
        await query.answer()
        message_id = query.message.message_id if query.message else state.get("message_id")
        if cb.route == "rl.st":
            await _finish(ctx, uid, run, state, "stopped", message_id)
        else:
            await _advance(ctx, uid, run, routine, index, message_id, state)


async def _advance(
    ctx: CoachContext,
    uid: int,
    run: dict[str, Any],
    routine: Routine,
    index: int,
    message_id: int | None,
    state: dict[str, Any],
    *,
    timer_ended: bool = False,
) -> None:
    """Show the step after ``index``, or finish. Caller holds the lock.

    When a timer ended, "✓ Time's up" heads the next step (or the end), sent as a new message.
    """
    done = ctx.t(domain.timer_done_message(routine.steps[index])) if timer_ended else None
    following = domain.next_step(index, len(routine.steps))
    if following is None:
        await _finish(ctx, uid, run, state, "finished", message_id, done_line=done)
        return
    text, markup = _step_view(ctx, uid, run["id"], routine, following)
    await _show_step(
        ctx,
        uid,
        run["id"],
        routine,
        following,
        message_id,
        f"{done}\n\n{text}" if done else text,
        markup,
        old_message_ids=state.get("old_message_ids") or (),
        signal=timer_ended,
    )


async def _hold_done(ctx: CoachContext) -> None:
    """JobQueue: a hold's time is up, so move on, unless the person already did."""
    assert ctx.job is not None
    uid, run_id, index = ctx.job.data
    async with _lock(ctx, uid):
        state = await ctx.store.get_state(uid, STATE)
        if not state or state.get("run_id") != run_id or state.get("step") != index:
            return  # they pressed Next, Stop or started another routine meanwhile
        run = await ctx.store.get(uid, RUNS, run_id)
        routine = _library(ctx).get(run["routine_id"]) if run else None
        if run is None or routine is None or run["status"] != "running":
            return
        await _advance(
            ctx, uid, run, routine, index, state.get("message_id"), state, timer_ended=True
        )


async def _finish(
    ctx: CoachContext,
    uid: int,
    run: dict[str, Any],
    state: dict[str, Any],
    status: str,
    message_id: int | None,
    *,
    done_line: str | None = None,
) -> None:
    """End a run (finished or stopped), schedule its follow-up, show the end options.

    ``done_line``: the last step's timer ended, so the end comes as a new message headed by it.
    """
    now = _now(ctx)
    profile = await ctx.store.get_profile(uid)
    minutes = domain.followup_minutes(profile)
    due = domain.followup_due(now, minutes, _scale(ctx))
    changes = {"status": status, "ended_at": _iso(now), "followup_due_at": _iso(due)}
    await ctx.store.update(uid, RUNS, run["id"], changes)
    await ctx.store.clear_state(uid, STATE)
    _unschedule(ctx, _hold_job_name(uid))
    _schedule(
        ctx,
        _followup_job_name(uid),
        _followup_job,
        (due - now).total_seconds(),
        (uid, run["id"]),
    )
    await _remember_timer(ctx, uid, due)
    routine = _library(ctx).get(run["routine_id"])
    if routine is None:
        return
    text, markup = _end_view(ctx, uid, {**run, **changes}, routine, minutes)
    shown = message_id if message_id is not None else state.get("message_id")
    if done_line:
        if await _send_new(ctx, uid, shown, f"{done_line}\n\n{text}", markup) != shown:
            await _retire_message(ctx, uid, shown)
    else:
        await _edit(ctx, uid, shown, text, markup)


async def on_cancel(uid: int, ctx: CoachContext) -> bool:
    """/cancel during a routine: stop it quietly (no follow-up)."""
    async with _lock(ctx, uid):
        state = await ctx.store.get_state(uid, STATE)
        if not state:
            return False
        run = await ctx.store.get(uid, RUNS, state.get("run_id", 0))
        if run is not None and run["status"] == "running":
            await ctx.store.update(
                uid, RUNS, run["id"], {"status": "stopped", "ended_at": _iso(_now(ctx))}
            )
        await ctx.store.clear_state(uid, STATE)
        _unschedule(ctx, _hold_job_name(uid))
        return True


# --------------------------------------------------------------------------- after the routine


async def _ended_run(update: Update, ctx: CoachContext, cb: Callback) -> dict[str, Any]:
    """The run a button is about (this person's own); BadCallback if it is gone or stale."""
    run = await ctx.store.get(user_id_of(update), RUNS, cb.int_arg(0, 1, _MAX_ID))
    if run is None or _library(ctx).get(run["routine_id"]) is None:
        raise BadCallback("no such run")
    return run


@button
async def on_other(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """rl.oth run: list the region's other routines, best first."""
    run = await _ended_run(update, ctx, cb)
    uid = user_id_of(update)
    region = run["region"]
    answers = (await _answers(ctx, uid)).get(region, [])
    others = [
        r
        for r in domain.rank(_library(ctx).for_region(region), answers)
        if r.id != run["routine_id"]
    ]
    await query.answer()
    label = _region_label(ctx, region)
    if not others:
        await _edit(ctx, uid, _message_id(update), ctx.t("relief.no_other", region=label))
        return
    rows = [[(r.title, ctx.button(uid, "rl.go", region, r.id))] for r in others]
    await _edit(
        ctx, uid, _message_id(update), ctx.t("relief.pick_other", region=label), inline(rows)
    )


def _message_id(update: Update) -> int | None:
    query = update.callback_query
    return query.message.message_id if query and query.message else None


def _followup_pending(run: dict[str, Any]) -> bool:
    return bool(run.get("followup_due_at")) and not run.get("followup_sent_at")


@button
async def on_delay(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """rl.fd run: offer 5-30 minutes for the follow-up."""
    run = await _ended_run(update, ctx, cb)
    if not _followup_pending(run):
        await query.answer(ctx.t("relief.ended"))
        return
    uid = user_id_of(update)
    buttons = [
        (ctx.t("relief.delay_option", minutes=m), ctx.button(uid, "rl.fm", run["id"], m))
        for m in domain.FOLLOWUP_MINUTES_CHOICES
    ]
    await query.answer()
    await _edit(ctx, uid, _message_id(update), ctx.t("relief.delay_ask"), inline(chunk(buttons, 3)))


@button
async def on_delay_set(
    update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback
) -> None:
    """rl.fm run minutes: save the person's follow-up delay and move this run's follow-up."""
    run = await _ended_run(update, ctx, cb)
    minutes = cb.int_arg(1, domain.MIN_FOLLOWUP_MINUTES, domain.MAX_FOLLOWUP_MINUTES)
    uid = user_id_of(update)
    async with _lock(ctx, uid):
        run = await ctx.store.get(uid, RUNS, run["id"]) or run
        if not _followup_pending(run):
            await query.answer(ctx.t("relief.ended"))
            return
        await ctx.store.update_profile(uid, {"relief_followup_minutes": minutes})
        due = domain.followup_due(datetime.fromisoformat(run["ended_at"]), minutes, _scale(ctx))
        await ctx.store.update(uid, RUNS, run["id"], {"followup_due_at": _iso(due)})
        seconds = (due - _now(ctx)).total_seconds()
        _schedule(ctx, _followup_job_name(uid), _followup_job, seconds, (uid, run["id"]))
        await _remember_timer(ctx, uid, due)
    await query.answer()
    routine = _library(ctx).get(run["routine_id"])
    assert routine is not None  # checked by _ended_run
    text, markup = _end_view(ctx, uid, run, routine, minutes)
    await _edit(ctx, uid, _message_id(update), text, markup)


async def _followup_job(ctx: CoachContext) -> None:
    """JobQueue: ask "how is the twitching now?" once, unless answered, replaced or too late."""
    assert ctx.job is not None
    uid, run_id = ctx.job.data
    async with _lock(ctx, uid):
        run = await ctx.store.get(uid, RUNS, run_id)
        if run is None or not _followup_pending(run) or run.get("outcome"):
            return
        action, wait = domain.followup_action(
            datetime.fromisoformat(run["followup_due_at"]), _now(ctx)
        )
        if action == "wait":
            _schedule(ctx, _followup_job_name(uid), _followup_job, wait, (uid, run_id))
            return
        if action == "drop":
            await ctx.store.update(uid, RUNS, run_id, {"followup_due_at": None})
            return
        profile = await ctx.store.get_profile(uid)
        if not profile or profile.get("active") is False:
            return  # blocked the bot: nothing to send
        routine = _library(ctx).get(run["routine_id"])
        if routine is None:
            return
        # Marked sent before sending: a crash in between loses one question, never repeats it.
        await ctx.store.update(uid, RUNS, run_id, {"followup_sent_at": _iso(_now(ctx))})
    buttons = [
        (_outcome_label(ctx, o), ctx.button(uid, "rl.fu", run_id, o)) for o in domain.OUTCOMES
    ]
    await deliver(
        ctx.bot,
        ctx.store,
        uid,
        ctx.t("relief.followup", title=html.escape(routine.title)),
        reply_markup=inline(chunk(buttons, 2)),
    )


@button
async def on_outcome(update: Update, ctx: CoachContext, query: CallbackQuery, cb: Callback) -> None:
    """rl.fu run outcome: store the answer once."""
    run = await _ended_run(update, ctx, cb)
    outcome = cb.args[1] if len(cb.args) > 1 else ""
    if outcome not in domain.OUTCOMES or not run.get("followup_sent_at"):
        await query.answer(ctx.t("common.expired_button"))
        return
    uid = user_id_of(update)
    async with _lock(ctx, uid):
        run = await ctx.store.get(uid, RUNS, run["id"]) or run
        if run.get("outcome"):
            await query.answer(ctx.t("relief.already_answered"))
            return
        now = _iso(_now(ctx))
        await ctx.store.update(uid, RUNS, run["id"], {"outcome": outcome, "answered_at": now})
    await query.answer()
    text = ctx.t("relief.outcome_saved", answer=_outcome_label(ctx, outcome))
    markup = None
    if outcome in ("same", "worse"):
        # After "worse", rest comes first; another routine is only the second offer.
        more = "relief.outcome_worse" if outcome == "worse" else "relief.outcome_try_another"
        text += "\n" + ctx.t(more)
        markup = inline([[(ctx.t("relief.another_button"), ctx.button(uid, "rl.oth", run["id"]))]])
    await _edit(ctx, uid, _message_id(update), text, markup)


# --------------------------------------------------------------------------- start-up


async def rebuild_timers(app: AnyApp) -> None:
    """Start-up hook: re-arm pending holds and follow-ups from the store.

    The scan runs as a job once the JobQueue is up, so polling does not wait for it and a
    shutdown waits for it to finish.
    """
    assert app.job_queue is not None
    app.job_queue.run_once(_rebuild_all, when=0, name="rl.rebuild", job_kwargs=_JOB_KWARGS)


async def _rebuild_all(ctx: CoachContext) -> None:
    store = ctx.services.store
    entries = await asyncio.to_thread(lambda: list(store.index_entries()))
    count = 0
    oldest = _now(ctx) - domain.MAX_FOLLOWUP_LATENESS
    for uid, entry in entries:
        if not entry.get("accepted") or entry.get("active") is False:
            continue
        if not entry.get(TIMER_FIELD) or datetime.fromisoformat(entry[TIMER_FIELD]) < oldest:
            continue  # no timer of theirs could still be worth re-arming
        try:
            count += await _rebuild_user(ctx, uid)
        except Exception as exc:  # one person's bad data must not stop everyone's timers
            log.warning("could not rebuild relief timers for a user: %s", type(exc).__name__)
    log.info("relief timers rebuilt: %d", count)


async def _rebuild_user(ctx: CoachContext, uid: int) -> int:
    # Under the lock: a routine finished during the scan must not have its timer replaced by
    # one read before it.
    async with _lock(ctx, uid):
        return await _rebuild_user_locked(ctx, uid)


async def _rebuild_user_locked(ctx: CoachContext, uid: int) -> int:
    runs = await ctx.store.all(uid, RUNS)
    if not runs:
        return 0
    now = _now(ctx)
    count = 0
    pending = [r for r in runs if _followup_pending(r) and not r.get("outcome")]
    if pending:
        run = max(pending, key=lambda r: r["id"])
        due = datetime.fromisoformat(run["followup_due_at"])
        seconds = (due - now).total_seconds()
        _schedule(ctx, _followup_job_name(uid), _followup_job, seconds, (uid, run["id"]))
        count += 1
    if any(r["status"] == "running" for r in runs):
        state = await ctx.store.get_state(uid, STATE)
        if state and state.get("hold_due_at"):
            due = datetime.fromisoformat(state["hold_due_at"])
            if now - due <= domain.MAX_FOLLOWUP_LATENESS:
                seconds = (due - now).total_seconds()
                data = (uid, state["run_id"], state["step"])
                _schedule(ctx, _hold_job_name(uid), _hold_done, seconds, data)
                count += 1
    return count


# --------------------------------------------------------------------------- wiring


def register(app: AnyApp) -> None:
    services: Services = app.bot_data["services"]
    app.bot_data[LIBRARY] = services.content.relief  # validated with the rest of content/
    app.bot_data[RNG] = random.Random()
    app.bot_data[LOCKS] = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
    services.menu_actions["menu.twitching_now"] = relief_entry
    services.cancel_hooks.append(on_cancel)
    services.startup_hooks.append(rebuild_timers)
    app.add_handler(CommandHandler("relief", relief_entry))
    routes = (
        (on_start_button, ("rl.start",)),
        (on_region, ("rl.reg",)),
        (on_go, ("rl.go",)),
        (on_step_button, ("rl.nx", "rl.sk", "rl.st")),
        (on_other, ("rl.oth",)),
        (on_delay, ("rl.fd",)),
        (on_delay_set, ("rl.fm",)),
        (on_outcome, ("rl.fu",)),
    )
    for handler, names in routes:
        app.add_handler(CallbackQueryHandler(handler, pattern=route_pattern(*names)))
