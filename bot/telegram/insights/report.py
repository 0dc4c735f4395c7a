"""/report: a one- or two-page PDF for a clinician, 30 or 90 days by button.

Route: rp.* report period.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, Update

from bot.content import Vocabulary
from bot.domain import insights as stats
from bot.domain.zones import local_now
from bot.reports.charts import ReportLabels, report_chart
from bot.reports.pdf import ReportDocument, Table, render_report
from bot.telegram.callbacks import BadCallback, Callback
from bot.telegram.common import button, edit_or_send, user_id_of
from bot.telegram.context import CoachContext
from bot.telegram.insights.shared import EPISODES, RED_FLAGS, RUNS, routine_name, zone_of
from bot.telegram.keyboards import inline
from bot.telegram.safety import safety_content

REPORT_DAYS = (30, 90)
MAX_RELIEF_ROWS = 8  # most-tried first; keeps the report within two pages


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
    tables = [
        *_count_tables(ctx, data),
        _red_flag_table(ctx, red_flags, zone, now),
        _persistence_table(ctx, flags),
    ]
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
        summary=_summary_lines(ctx, data, days),
        chart_heading=t("insights.pdf_chart"),
        chart_png=chart,
        tables=tables,
        footer=t("insights.pdf_footer"),
    )


def _summary_lines(ctx: CoachContext, data: stats.ReportData, days: int) -> list[str]:
    t = ctx.t
    none = t("insights.pdf_no_value")

    def one_decimal(value: float | None) -> str:
        return f"{value:.1f}" if value is not None else none

    return [
        t("insights.pdf_episodes", count=data.episode_count),
        t("insights.pdf_days", days=data.days_with_episodes, total=days),
        t(
            "insights.pdf_average",
            average=one_decimal(data.average),
            highest=data.highest if data.highest is not None else none,
        ),
        t(
            "insights.pdf_trend",
            first=one_decimal(data.first_half_avg),
            second=one_decimal(data.second_half_avg),
        ),
    ]


def _count_tables(ctx: CoachContext, data: stats.ReportData) -> list[Table]:
    """Body regions, triggers and relief routines, each with its counts."""
    t = ctx.t
    vocabulary = ctx.content.vocabulary
    region_rows = [(Vocabulary.label(vocabulary.regions, r), str(n)) for r, n in data.regions]
    trigger_rows = [(Vocabulary.label(vocabulary.triggers, r), str(n)) for r, n in data.triggers]
    outcome_order = ("much_better", "a_bit_better", "same", "worse", "no_answer")
    relief_rows = [
        (
            routine_name(ctx.content, routine),
            str(times),
            " / ".join(str(outcomes.get(k, 0)) for k in outcome_order),
        )
        for routine, times, outcomes in data.relief[:MAX_RELIEF_ROWS]
    ]
    return [
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


def _red_flag_table(
    ctx: CoachContext, red_flags: list[dict[str, Any]], zone: str, now: datetime
) -> Table:
    """The latest red-flag answers, and the dates of earlier checks with a yes."""
    t = ctx.t
    ordered = sorted(red_flags, key=lambda r: str(r.get("asked_at", "")))
    if not ordered:
        return Table(t("insights.pdf_red_flags"), (), [], t("insights.pdf_no_red_flags"))
    latest = ordered[-1]
    answers = latest.get("answers") or {}
    asked = stats.parse_instant(latest.get("asked_at"))
    asked_text = asked.astimezone(local_now(now, zone).tzinfo).date().isoformat() if asked else "?"
    words = safety_content().red_flags
    # The questions this record answered (older records used other questions).
    rows = [
        (words.label(qid), t("insights.pdf_yes") if yes else t("insights.pdf_no"))
        for qid, yes in answers.items()
    ]
    for qid, onset in (latest.get("onsets") or {}).items():
        rows.append((t("insights.pdf_onset", question=words.label(qid)), words.onset_label(onset)))
    if latest.get("outcome") == "emergency":
        rows.append((t("insights.pdf_red_flag_emergency"), ""))
    earlier = [r for r in ordered[:-1] if r.get("any_yes")]
    if earlier:
        dates = ", ".join(str(r.get("asked_at", ""))[:10] for r in earlier)
        rows.append((t("insights.pdf_earlier_yes", dates=dates), ""))
    return Table(
        t("insights.pdf_red_flags"),
        (t("insights.pdf_question", date=asked_text), t("insights.pdf_answer")),
        rows,
        "",
        (4, 1),
    )


def _persistence_table(ctx: CoachContext, flags: list[str]) -> Table:
    flag_names = safety_content().flag_names()
    return Table(
        ctx.t("insights.pdf_persistence"),
        (ctx.t("insights.pdf_flag"),),
        [(flag_names[f].capitalize(),) for f in flags],
        ctx.t("insights.pdf_no_flags"),
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
    zone = zone_of(profile)
    now = ctx.services.clock.now()
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
