"""Insight, safety and data ownership: /week (and "My week"), /report, the red-flag check,
the GP note, /export, /forget and /privacy, plus one repeating job for the proactive messages.

Routes: wk.* weekly opt-in, rp.* report period, rf.* red-flag check, fg.* delete confirmation.

Proactive messages (``run_due``, every ``TICK_SECONDS``) only go out in the person's local evening,
never in quiet hours (``QUIET_FROM`` to the next morning):
* the weekly summary, opt-in, on Sunday from ``WEEKLY_FROM`` local, once per ISO week;
* the red-flag check again when it was last offered ``RECHECK_DAYS`` ago;
* the "please see a GP" note when the persistence rule holds, at most every
  ``GP_NOTE_DAYS`` days.
The daily checks run in the ``DAILY_HOUR`` local hour, so each tick only opens a small share of
the user files.
"""

from __future__ import annotations

import asyncio
import csv
import html
import io
import json
import logging
import secrets
from datetime import datetime, time, timedelta
from typing import Any

from telegram import Bot, CallbackQuery, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.content import Content, Vocabulary
from bot.domain import insights as stats
from bot.domain import safety
from bot.domain.zones import local_now
from bot.reports.charts import ReportLabels, WeekLabels, report_chart, week_chart
from bot.reports.pdf import ReportDocument, Table, render_report
from bot.storage import Store
from bot.telegram.callbacks import BadCallback, Callback, feature_pattern
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext, Services, services_of
from bot.telegram.delivery import deliver, mark_inactive
from bot.telegram.jobs import remove_user_jobs
from bot.telegram.keyboards import inline
from bot.telegram.safety import safety_content

log = logging.getLogger(__name__)

EPISODES, RUNS, RED_FLAGS = "episodes", "relief_runs", "red_flags"
REDFLAG_STATE, FORGET_STATE = "redflag", "forget"
REPORT_DAYS = (30, 90)
MAX_RELIEF_ROWS = 8  # most-tried first; keeps the report within two pages
TICK_SECONDS = 15 * 60
WEEKLY_FROM = time(18, 0)  # Sunday evening, local
DAILY_HOUR = 18  # the local hour in which the red-flag recheck and GP note are considered
QUIET_FROM = time(21, 0)  # nothing proactive from here until the next day's window
GP_NOTE_DAYS = 30
JOB_NAME = "insights.tick"

App = Application[Any, Any, Any, Any, Any, Any]


def _now(ctx: CoachContext) -> datetime:
    return ctx.services.clock.now()


def _zone(profile: dict[str, Any] | None) -> str:
    return (profile or {}).get("tz") or "UTC"


def _fmt(value: float | None, ctx_t: Any) -> str:
    return f"{value:.1f}" if value is not None else ctx_t("insights.week_no_average")


def _routine_name(content: Content, routine_id: str) -> str:
    """A routine's title from content (a retired routine's id, made readable)."""
    routine = content.relief.get(routine_id)
    return routine.title if routine else routine_id.replace("_", " ").capitalize()


def _day_label(day: Any) -> str:
    return day.strftime("%a %d %b")


# ---------------------------------------------------------------------------- weekly summary


async def _week_parts(
    services: Services, user_id: int
) -> tuple[bytes | None, str, dict[str, Any] | None]:
    """(chart PNG or None, summary text, profile) for one person, now."""
    store, content = services.store, services.content
    t = content.t
    profile = await store.get_profile(user_id)
    zone = _zone(profile)
    episodes = await store.all(user_id, EPISODES)
    runs = await store.all(user_id, RUNS)
    summary = stats.week_summary(episodes, runs, zone, services.clock.now())
    if not summary.enough_data:
        return None, t("insights.week_too_little"), profile
    vocabulary = content.vocabulary
    lines = [
        t(
            "insights.week_header",
            start=_day_label(summary.days[0].day),
            end=_day_label(summary.days[-1].day),
        ),
        t(
            "insights.week_counts",
            count=summary.this_week.count,
            last_count=summary.last_week.count,
        ),
    ]
    if summary.this_week.count:
        lines.append(
            t(
                "insights.week_average",
                average=_fmt(summary.this_week.average, t),
                last_average=_fmt(summary.last_week.average, t),
            )
        )
    else:
        lines.append(t("insights.week_none_this_week"))
    if summary.triggers:
        named = ", ".join(
            f"{html.escape(Vocabulary.label(vocabulary.triggers, tid))} ({n})"
            for tid, n in summary.triggers
        )
        lines.append(t("insights.week_triggers", triggers=named))
    if summary.relief is not None:
        lines.append(
            t(
                "insights.week_relief",
                routine=html.escape(_routine_name(content, summary.relief.routine_id)),
                helped=summary.relief.helped,
                answered=summary.relief.answered,
            )
        )
    if summary.best_day is not None and summary.worst_day is not None:
        lines.append(
            t(
                "insights.week_days",
                best=_day_label(summary.best_day.day),
                worst=_day_label(summary.worst_day.day),
            )
        )
    for pattern in summary.patterns:
        label = html.escape(Vocabulary.label(vocabulary.triggers, pattern.trigger))
        key_values = {
            "trigger": label,
            "with_value": f"{pattern.with_value:.1f}",
            "without_value": f"{pattern.without_value:.1f}",
        }
        if pattern.kind == "stronger":
            lines.append(t("insights.pattern_stronger", **key_values))
        else:
            lines.append(t("insights.pattern_more_often", **key_values))
    if summary.patterns:
        lines.append(t("insights.pattern_note"))
    labels = WeekLabels(
        title=t("insights.week_chart_title"),
        episodes=t("insights.chart_episodes"),
        intensity=t("insights.chart_intensity"),
        this_week=t("insights.chart_this_week"),
        weeks_before=t("insights.chart_weeks_before"),
    )
    png = await asyncio.to_thread(week_chart, summary, labels)
    return png, "\n".join(lines), profile


def _weekly_button(ctx_t: Any, button: Any, user_id: int, enabled: bool) -> InlineKeyboardMarkup:
    if enabled:
        return inline([[(ctx_t("insights.weekly_off_button"), button(user_id, "wk.sub", 0))]])
    return inline([[(ctx_t("insights.weekly_on_button"), button(user_id, "wk.sub", 1))]])


async def week_command(update: Update, ctx: CoachContext) -> None:
    """/week and the "My week" menu button: chart + a few plain lines, or a kind 'not yet'."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    png, text, profile = await _week_parts(ctx.services, user_id)
    enabled = bool((profile or {}).get("weekly_summary"))
    if png is not None:
        await message.reply_photo(png, caption=ctx.t("insights.week_caption"))
    await message.reply_text(text, reply_markup=_weekly_button(ctx.t, ctx.button, user_id, enabled))


@button
async def on_weekly_toggle(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """Opt in or out of the Sunday summary."""
    enabled = bool(callback.int_arg(0, 0, 1))
    user_id = user_id_of(update)
    await ctx.store.update_profile(user_id, {"weekly_summary": enabled})
    await query.answer(ctx.t("insights.weekly_on" if enabled else "insights.weekly_off"))
    await query.edit_message_reply_markup(
        reply_markup=_weekly_button(ctx.t, ctx.button, user_id, enabled)
    )


# ---------------------------------------------------------------------------- clinician report


async def report_command(update: Update, ctx: CoachContext) -> None:
    """/report: choose the period by button."""
    assert update.effective_message is not None
    user_id = user_id_of(update)
    keyboard = inline(
        [
            [
                (ctx.t("insights.report_30_button"), ctx.button(user_id, "rp.d", 30)),
                (ctx.t("insights.report_90_button"), ctx.button(user_id, "rp.d", 90)),
            ]
        ]
    )
    await update.effective_message.reply_text(ctx.t("insights.report_ask"), reply_markup=keyboard)


def _report_document(
    ctx: CoachContext,
    data: stats.ReportData,
    red_flags: list[dict[str, Any]],
    flags: list[str],
    zone: str,
    now: datetime,
    days: int,
    chart: bytes | None,
) -> ReportDocument:
    t = ctx.t
    vocabulary = ctx.content.vocabulary
    text = safety_content()
    none = t("insights.pdf_no_value")
    summary = [
        t("insights.pdf_episodes", count=data.episode_count),
        t("insights.pdf_days", days=data.days_with_episodes, total=days),
        t(
            "insights.pdf_average",
            average=f"{data.average:.1f}" if data.average is not None else none,
            highest=data.highest if data.highest is not None else none,
        ),
        t(
            "insights.pdf_trend",
            first=f"{data.first_half_avg:.1f}" if data.first_half_avg is not None else none,
            second=f"{data.second_half_avg:.1f}" if data.second_half_avg is not None else none,
        ),
    ]
    region_rows = [(Vocabulary.label(vocabulary.regions, r), str(n)) for r, n in data.regions]
    trigger_rows = [(Vocabulary.label(vocabulary.triggers, r), str(n)) for r, n in data.triggers]
    relief_rows = [
        (
            _routine_name(ctx.content, routine),
            str(times),
            " / ".join(
                str(outcomes.get(k, 0))
                for k in ("much_better", "a_bit_better", "same", "worse", "no_answer")
            ),
        )
        for routine, times, outcomes in data.relief[:MAX_RELIEF_ROWS]
    ]
    tables = [
        Table(
            t("insights.pdf_regions"),
            (t("insights.pdf_region"), t("insights.pdf_episodes_col")),
            region_rows,
            t("insights.pdf_none"),
            (3, 1),
        ),
        Table(
            t("insights.pdf_triggers"),
            (t("insights.pdf_trigger"), t("insights.pdf_episodes_col")),
            trigger_rows,
            t("insights.pdf_none"),
            (3, 1),
        ),
        Table(
            t("insights.pdf_relief"),
            (t("insights.pdf_routine"), t("insights.pdf_tried"), t("insights.pdf_outcomes")),
            relief_rows,
            t("insights.pdf_none"),
            (3, 1, 4),
        ),
    ]
    ordered = sorted(red_flags, key=lambda r: str(r.get("asked_at", "")))
    if ordered:
        latest = ordered[-1]
        answers = latest.get("answers") or {}
        asked = stats.parse_instant(latest.get("asked_at"))
        asked_text = (
            asked.astimezone(local_now(now, zone).tzinfo).date().isoformat() if asked else "?"
        )
        # The questions this record answered (older records used other questions).
        rows = [
            (text.red_flags.label(qid), t("insights.pdf_yes") if yes else t("insights.pdf_no"))
            for qid, yes in answers.items()
        ]
        for qid, onset in (latest.get("onsets") or {}).items():
            label = t("insights.pdf_onset", question=text.red_flags.label(qid))
            rows.append((label, text.red_flags.onset_label(onset)))
        if latest.get("outcome") == "emergency":
            rows.append((t("insights.pdf_red_flag_emergency"), ""))
        earlier = [r for r in ordered[:-1] if r.get("any_yes")]
        if earlier:
            dates = ", ".join(str(r.get("asked_at", ""))[:10] for r in earlier)
            rows.append((t("insights.pdf_earlier_yes", dates=dates), ""))
        tables.append(
            Table(
                t("insights.pdf_red_flags"),
                (t("insights.pdf_question", date=asked_text), t("insights.pdf_answer")),
                rows,
                "",
                (4, 1),
            )
        )
    else:
        tables.append(Table(t("insights.pdf_red_flags"), (), [], t("insights.pdf_no_red_flags")))
    flag_names = text.flag_names()
    tables.append(
        Table(
            t("insights.pdf_persistence"),
            (t("insights.pdf_flag"),),
            [(flag_names[f].capitalize(),) for f in flags],
            t("insights.pdf_no_flags"),
        )
    )
    local = local_now(now, zone)
    return ReportDocument(
        title=t("insights.pdf_title"),
        subtitle=t(
            "insights.pdf_subtitle",
            start=data.first_day.isoformat(),
            end=data.last_day.isoformat(),
            days=days,
            created=local.strftime("%Y-%m-%d %H:%M"),
            zone=zone,
        ),
        note=t("insights.pdf_note"),
        summary_heading=t("insights.pdf_summary"),
        summary=summary,
        chart_heading=t("insights.pdf_chart"),
        chart_png=chart,
        tables=tables,
        footer=t("insights.pdf_footer"),
    )


@button
async def on_report_period(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """The 30/90-day button: build the PDF off the event loop and send it as a document."""
    days = callback.int_arg(0, 1, 365)
    if days not in REPORT_DAYS:
        raise BadCallback("unknown period")
    await query.answer()
    user_id = user_id_of(update)
    profile = await ctx.store.get_profile(user_id)
    zone = _zone(profile)
    now = _now(ctx)
    episodes = await ctx.store.all(user_id, EPISODES)
    runs = await ctx.store.all(user_id, RUNS)
    red_flags = await ctx.store.all(user_id, RED_FLAGS)
    data = stats.report_data(episodes, runs, zone, now, days)
    if data.episode_count == 0 and not red_flags:
        await edit_or_send(query, ctx.t("insights.report_empty", days=days))
        return
    await edit_or_send(query, ctx.t("insights.report_making", days=days))
    flags = stats.persistence_flags(episodes, zone, now)
    labels = ReportLabels(
        episodes=ctx.t("insights.pdf_chart_episodes"),
        intensity=ctx.t("insights.pdf_chart_intensity"),
    )
    chart = (
        await asyncio.to_thread(report_chart, data.series, labels) if data.episode_count else None
    )
    document = _report_document(ctx, data, red_flags, flags, zone, now, days, chart)
    pdf = await asyncio.to_thread(render_report, document)
    assert query.message is not None
    filename = f"{ctx.t('insights.report_filename')}-{data.last_day.isoformat()}.pdf"
    await ctx.bot.send_document(
        query.message.chat.id,
        pdf,
        filename=filename,
        caption=ctx.t("insights.report_caption", days=days),
    )


# ---------------------------------------------------------------------------- red-flag check


async def red_flag_offer(services: Services, user_id: int) -> tuple[str, InlineKeyboardMarkup]:
    """Start a red-flag check session: returns the offer text and its Start / Not now buttons.

    Records the offer time (the 4-week clock restarts on every offer, answered or skipped)."""
    safety_text = safety_content()
    token = secrets.token_urlsafe(6)
    now = services.clock.now()
    # The profile first: it raises KeyError for a deleted user, so no file is recreated.
    await services.store.update_profile(user_id, {"redflag_offered_at": now.isoformat()})
    await services.store.set_state(user_id, REDFLAG_STATE, {"token": token, "answers": {}})
    codec = services.codec
    keyboard = inline(
        [
            [
                (safety_text.red_flags.start_button, codec.encode(user_id, "rf.go", token)),
                (safety_text.red_flags.skip_button, codec.encode(user_id, "rf.skip", token)),
            ]
        ]
    )
    return safety_text.red_flags.intro, keyboard


async def offer_red_flag_check(update: Update, ctx: CoachContext) -> None:
    """Onboarding's last step and /safetycheck: offer the short yes/no check."""
    assert update.effective_message is not None
    text, keyboard = await red_flag_offer(ctx.services, user_id_of(update))
    await update.effective_message.reply_text(text, reply_markup=keyboard)


def _question_markup(
    ctx: CoachContext, user_id: int, token: str, step: safety.CheckStep
) -> tuple[str, InlineKeyboardMarkup]:
    """A yes/no question (rf.a token index y|n) or, after a yes, how it came on (rf.o ...)."""
    words = safety_content().red_flags
    kind, index, _ = step
    question = words.questions[index]
    progress = words.progress.format(number=index + 1, total=len(words.questions))
    if kind == "onset":
        text = f"{progress}\n{question.text}\n\n{words.onset_question}"
        choices = [
            (words.onset_sudden_button, "sudden"),
            (words.onset_slow_button, "slow"),
            (words.onset_unsure_button, "unsure"),
        ]
        rows = [
            [(label, ctx.button(user_id, "rf.o", token, index, value))] for label, value in choices
        ]
        return text, inline(rows)
    answers = [(words.yes_button, "y"), (words.no_button, "n")]
    row = [(label, ctx.button(user_id, "rf.a", token, index, value)) for label, value in answers]
    return f"{progress}\n{question.text}", inline([row])


@button
async def on_red_flag(
    update: Update, ctx: CoachContext, query: CallbackQuery, callback: Callback
) -> None:
    """rf.go / rf.skip / rf.a / rf.o: one question per tap (bot/domain/safety.check_step); a
    stale or repeated tap changes nothing. An emergency answer ends the check at once."""
    user_id = user_id_of(update)
    words = safety_content().red_flags
    state = await ctx.store.get_state(user_id, REDFLAG_STATE)
    try:
        token = callback.arg(0)
        if not state or state.get("token") != token:
            raise BadCallback("not the current check")
        answers: dict[str, bool] = dict(state.get("answers") or {})
        onsets: dict[str, str] = dict(state.get("onsets") or {})
        if callback.route == "rf.skip":
            await ctx.store.clear_state(user_id, REDFLAG_STATE)
            await query.answer()
            await edit_or_send(query, words.skipped)
            return
        current = safety.check_step(words.questions, answers, onsets)
        if callback.route in ("rf.a", "rf.o"):
            kind = "ask" if callback.route == "rf.a" else "onset"
            index = callback.int_arg(1, 0, len(words.questions) - 1)
            value = callback.arg(2)
            if current[:2] != (kind, index):
                raise BadCallback("already answered")
            question_id = words.questions[index].id
            if kind == "ask" and value in ("y", "n"):
                answers[question_id] = value == "y"
            elif kind == "onset" and value in safety.ONSETS:
                onsets[question_id] = value
            else:
                raise BadCallback("not an answer")
        elif callback.route != "rf.go":
            raise BadCallback("unknown route")
    except BadCallback:
        await query.answer(ctx.t("common.expired_button"))
        return
    await query.answer()
    step = safety.check_step(words.questions, answers, onsets)
    if step[0] != "done":
        state = {"token": token, "answers": answers, "onsets": onsets}
        await ctx.store.set_state(user_id, REDFLAG_STATE, state)
        text, keyboard = _question_markup(ctx, user_id, token, step)
        await edit_or_send(query, text, reply_markup=keyboard)
        return
    outcome = step[2] or "clear"
    record = safety.red_flag_record(answers, onsets, outcome, _now(ctx))
    await ctx.store.insert(user_id, RED_FLAGS, record)
    await ctx.store.clear_state(user_id, REDFLAG_STATE)
    await edit_or_send(query, words.reply(outcome, answers))


# ---------------------------------------------------------------------------- export


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
    now = _now(ctx)
    everything = {
        "format": "fibro-twitch-coach-export",
        "version": 1,
        "exported_at": now.isoformat(),
        "user_id": user_id,
        "profile": profile,
        "tables": tables,
    }
    episodes = tables.get(EPISODES, [])
    stamp = now.strftime("%Y%m%d")
    await message.reply_text(ctx.t("insights.export_intro"))
    summary = ", ".join(f"{name} {len(docs)}" for name, docs in tables.items())
    await message.reply_document(
        json.dumps(everything, ensure_ascii=False, indent=2).encode("utf-8"),
        filename=f"twitch-coach-export-{stamp}.json",
        caption=ctx.t("insights.export_json_caption", tables=html.escape(summary)),
    )
    await message.reply_document(
        episodes_csv(episodes, _zone(profile)),
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


# ---------------------------------------------------------------------------- proactive job


def _iso_week(local: datetime) -> str:
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


async def _send_photo(bot: Bot, store: Store, user_id: int, png: bytes, caption: str) -> bool:
    try:
        await bot.send_photo(user_id, png, caption=caption)
    except Forbidden:
        await mark_inactive(store, user_id)
        return False
    except BadRequest as exc:
        if "chat not found" in str(exc).lower():
            await mark_inactive(store, user_id)
            return False
        raise
    return True


async def _due_for_user(app: App, user_id: int, local: datetime, now: datetime) -> list[str]:
    """Send what is due for one person; returns what was sent (for logs and tests)."""
    services = services_of(app)
    store, t = services.store, services.content.t
    profile = await store.get_profile(user_id)
    if not profile or not profile.get("onboarded") or profile.get("active") is False:
        return []
    sent: list[str] = []
    week = _iso_week(local)
    if (
        profile.get("weekly_summary")
        and local.isoweekday() == 7
        and local.time() >= WEEKLY_FROM
        and profile.get("weekly_sent_week") != week
    ):
        png, text, _ = await _week_parts(services, user_id)
        ok = True
        if png is not None:
            ok = await _send_photo(app.bot, store, user_id, png, t("insights.weekly_push_intro"))
        if ok:
            markup = _weekly_button(t, services.codec.encode, user_id, True)
            if await deliver(app.bot, store, user_id, text, reply_markup=markup):
                await store.update_profile(user_id, {"weekly_sent_week": week})
                sent.append("weekly")
    if local.hour != DAILY_HOUR:
        return sent
    words = safety_content()
    gp_at = stats.parse_instant(profile.get("gp_prompted_at"))
    if gp_at is None or now - gp_at >= timedelta(days=GP_NOTE_DAYS):
        episodes = await store.all(user_id, EPISODES)
        flags = stats.persistence_flags(episodes, _zone(profile), now)
        if flags:
            text = words.gp_note(flags)
            # Recorded first: a GP note is worth less than never sending it twice.
            await store.update_profile(user_id, {"gp_prompted_at": now.isoformat()})
            if await deliver(app.bot, store, user_id, text):
                sent.append("gp_note")
    offered = stats.parse_instant(profile.get("redflag_offered_at") or profile.get("created_at"))
    if safety.recheck_due(offered, now):
        text, keyboard = await red_flag_offer(services, user_id)
        if await deliver(app.bot, store, user_id, text, reply_markup=keyboard):
            sent.append("red_flags")
    return sent


async def run_due(app: App) -> dict[int, list[str]]:
    """One pass over everyone whose local evening it is; one person's failure skips only them."""
    services = services_of(app)
    now = services.clock.now()
    entries = await asyncio.to_thread(lambda: list(services.store.index_entries()))
    done: dict[int, list[str]] = {}
    for user_id, entry in entries:
        zone = entry.get("tz")
        if not zone or not entry.get("accepted") or entry.get("active") is False:
            continue
        local = local_now(now, zone)
        if not WEEKLY_FROM.hour <= local.hour < QUIET_FROM.hour:
            continue  # outside the evening window; quiet hours start at QUIET_FROM
        if local.hour != DAILY_HOUR and local.isoweekday() != 7:
            continue  # nothing can be due: don't open the file
        try:
            sent = await _due_for_user(app, user_id, local, now)
        except Exception:
            log.exception("insights: proactive messages failed for one user")
            continue
        if sent:
            done[user_id] = sent
    return done


async def _tick(context: CoachContext) -> None:
    await run_due(context.application)


async def _schedule(app: App) -> None:
    if app.job_queue is None:
        log.warning("no job queue: weekly summaries and safety re-checks are off")
        return
    app.job_queue.run_repeating(
        _tick,
        interval=TICK_SECONDS,
        first=60,
        name=JOB_NAME,
        job_kwargs={"misfire_grace_time": TICK_SECONDS, "coalesce": True},
    )


# ---------------------------------------------------------------------------- wiring


def register(app: App) -> None:
    services: Services = app.bot_data["services"]
    safety_content()  # validated at start: a content mistake stops the bot here
    services.menu_actions["menu.my_week"] = week_command
    services.startup_hooks.append(_schedule)
    app.add_handler(CommandHandler("week", week_command))
    app.add_handler(CommandHandler("report", report_command))
    app.add_handler(CommandHandler("export", export_command))
    app.add_handler(CommandHandler("forget", forget_command))
    app.add_handler(CommandHandler("privacy", privacy_command))
    app.add_handler(CommandHandler("safetycheck", offer_red_flag_check))
    app.add_handler(CallbackQueryHandler(on_weekly_toggle, pattern=feature_pattern("wk")))
    app.add_handler(CallbackQueryHandler(on_report_period, pattern=feature_pattern("rp")))
    app.add_handler(CallbackQueryHandler(on_red_flag, pattern=feature_pattern("rf")))
    app.add_handler(CallbackQueryHandler(on_forget, pattern=feature_pattern("fg")))
