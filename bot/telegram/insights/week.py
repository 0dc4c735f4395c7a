"""/week and the "My week" button: a chart of the last 7 local days and a few plain lines, plus
the opt-in for the Sunday-evening summary (the "weekly" push, `bot.telegram.insights.evening`).

Route: wk.* weekly opt-in.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, InputFile, Update

from bot.content import Content, Vocabulary
from bot.domain import diary
from bot.domain import insights as stats
from bot.reports.charts import DayKindLabels, WeekLabels, week_chart
from bot.storage import UserData
from bot.telegram.callbacks import Callback
from bot.telegram.common import button, user_id_of
from bot.telegram.context import CoachContext, Services
from bot.telegram.delivery import PHOTO_NAME
from bot.telegram.insights.shared import EPISODES, RUNS, day_label, routine_name, zone_of
from bot.telegram.keyboards import inline


def _fmt(value: float | None, ctx_t: Any) -> str:
    return f"{value:.1f}" if value is not None else ctx_t("insights.week_no_average")


def day_kind_labels(content: Content) -> DayKindLabels:
    t = content.t
    return DayKindLabels(
        strip=t("insights.chart_days"),
        calm=t("insights.chart_day_calm"),
        twitching=t("insights.chart_day_twitching"),
        not_recorded=t("insights.chart_day_not_recorded"),
    )


def diary_factors(
    content: Content, own: Sequence[dict[str, Any]]
) -> tuple[dict[str, str], list[str], set[str]]:
    """(label of every factor a day may name, the factors the pattern rule compares: built-in
    and the active own ones, the built-in ones also compared with the next day)."""
    builtin = [diary.Factor(c.id, c.label, lag=c.lag) for c in content.vocabulary.day_factors]
    compared = [f.id for f in builtin] + [
        diary.own_factor_id(d["id"]) for d in diary.active_own(own)
    ]
    return diary.all_factors(builtin, own), compared, {f.id for f in builtin if f.lag}


def _finding_line(t: Any, finding: Any, labels: dict[str, str]) -> str:
    key = "diary.pattern_next_day" if finding.lag else "diary.pattern_same_day"
    return t(
        key,
        factor=html.escape(labels.get(finding.factor, finding.factor)),
        with_days=finding.with_days,
        with_bad=finding.with_bad,
        without_days=finding.without_days,
        without_bad=finding.without_bad,
    )


async def week_parts(
    services: Services, user_id: int
) -> tuple[bytes | None, str, dict[str, Any] | None]:
    """(chart PNG or None, summary text, profile) for one person, now."""
    store = services.store

    def read(data: UserData) -> tuple[Any, ...]:
        return (
            data.profile(),
            data.all(EPISODES),
            data.all(RUNS),
            data.all(diary.DAYS_TABLE),
            data.all(diary.FACTORS_TABLE),
        )

    profile, episodes, runs, days, own = await store.transact(user_id, read)
    now = services.clock.now()
    png, text = await asyncio.to_thread(
        week_parts_of, services.content, profile, episodes, runs, now, days, own
    )
    return png, text, profile


def week_parts_of(
    content: Content,
    profile: dict[str, Any] | None,
    episodes: Sequence[dict[str, Any]],
    runs: Sequence[dict[str, Any]],
    now: datetime,
    diary_days: Sequence[dict[str, Any]] = (),
    own_factors: Sequence[dict[str, Any]] = (),
) -> tuple[bytes | None, str]:
    """(chart PNG or None, summary text) from one person's data; blocking (draws the chart).
    Also what the Sunday push prepares inside its unit of work."""
    t = content.t
    factor_labels, compared, lagged = diary_factors(content, own_factors)
    summary = stats.week_summary(
        episodes, runs, zone_of(profile), now, diary_days, compared, lagged
    )
    if not summary.enough_data:
        return None, t("insights.week_too_little")
    vocabulary = content.vocabulary
    kinds = summary.kinds
    lines = [
        t(
            "insights.week_header",
            start=day_label(summary.days[0].day),
            end=day_label(summary.days[-1].day),
        ),
        t(
            "insights.week_recorded",
            recorded=kinds.recorded,
            total=kinds.total,
            calm=kinds.calm,
            twitching=kinds.twitching,
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
    elif not kinds.recorded:
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
                routine=html.escape(routine_name(content, summary.relief.routine_id)),
                helped=summary.relief.helped,
                answered=summary.relief.answered,
            )
        )
    if summary.best_day is not None and summary.worst_day is not None:
        lines.append(
            t(
                "insights.week_days",
                best=day_label(summary.best_day.day),
                worst=day_label(summary.worst_day.day),
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
    lines += [_finding_line(t, finding, factor_labels) for finding in summary.findings]
    if summary.findings:
        lines.append(t("diary.pattern_doubt"))
    labels = WeekLabels(
        title=t("insights.week_chart_title"),
        episodes=t("insights.chart_episodes"),
        intensity=t("insights.chart_intensity"),
        this_week=t("insights.chart_this_week"),
        weeks_before=t("insights.chart_weeks_before"),
        days=day_kind_labels(content),
    )
    return week_chart(summary, labels), "\n".join(lines)


def weekly_button(ctx_t: Any, button: Any, user_id: int, enabled: bool) -> InlineKeyboardMarkup:
    if enabled:
        return inline([[(ctx_t("insights.weekly_off_button"), button(user_id, "wk.sub", 0))]])
    return inline([[(ctx_t("insights.weekly_on_button"), button(user_id, "wk.sub", 1))]])


async def week_command(update: Update, ctx: CoachContext) -> None:
    """/week and the "My week" menu button: chart + a few plain lines, or a kind 'not yet'."""
    message = update.effective_message
    assert message is not None
    user_id = user_id_of(update)
    png, text, profile = await week_parts(ctx.services, user_id)
    enabled = bool((profile or {}).get("weekly_summary"))
    if png is not None:
        picture = InputFile(png, filename=PHOTO_NAME)
        await message.reply_photo(picture, caption=ctx.t("insights.week_caption"))
    await message.reply_text(text, reply_markup=weekly_button(ctx.t, ctx.button, user_id, enabled))


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
        reply_markup=weekly_button(ctx.t, ctx.button, user_id, enabled)
    )
