"""PNG charts with matplotlib's Agg canvas (headless, no pyplot global state, safe in a worker
thread). Every word on a chart is passed in by the caller, from content."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.domain.insights import Day, WeekSummary

INK = "#1f3b5c"  # this week: dark enough to read on a phone in sunlight
FAINT = "#9aa5b1"


@dataclass(frozen=True)
class WeekLabels:
    title: str
    episodes: str
    intensity: str
    this_week: str
    weeks_before: str


@dataclass(frozen=True)
class ReportLabels:
    episodes: str
    intensity: str


def _png(fig: Figure, dpi: int) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _averages(days: Sequence[Day]) -> list[float]:
    return [d.average if d.average is not None else math.nan for d in days]


def week_chart(summary: WeekSummary, labels: WeekLabels) -> bytes:
    """Episodes per day (bars) and average intensity (line) for the last 7 days; each of the
    four weeks before is a thin faint line behind, aligned by position in the week."""
    fig = Figure(figsize=(7, 5.2), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    xs = list(range(len(summary.days)))
    for index, week in enumerate(summary.previous_weeks):
        label = labels.weeks_before if index == 0 else None
        top.plot(xs, [d.count for d in week], color=FAINT, lw=1, alpha=0.6, label=label)
        bottom.plot(xs, _averages(week), color=FAINT, lw=1, alpha=0.6, marker=".", label=label)
    top.bar(xs, [d.count for d in summary.days], color=INK, width=0.6, label=labels.this_week)
    bottom.plot(xs, _averages(summary.days), color=INK, lw=2.5, marker="o", label=labels.this_week)
    highest = max([d.count for w in [summary.days, *summary.previous_weeks] for d in w] + [1])
    top.set_ylim(0, highest + 1)
    top.yaxis.get_major_locator().set_params(integer=True)
    top.set_ylabel(labels.episodes)
    bottom.set_ylim(0, 10.5)
    bottom.set_ylabel(labels.intensity)
    bottom.set_xticks(xs, [d.day.strftime("%a\n%d %b") for d in summary.days])
    for ax in (top, bottom):
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    top.legend(loc="upper left", frameon=False, fontsize=9)
    top.set_title(labels.title, loc="left", fontsize=12)
    return _png(fig, dpi=110)


def report_chart(series: Sequence[Day], labels: ReportLabels) -> bytes:
    """Black-and-white friendly: grey bars for episodes per day, a black line with markers for
    the day's average intensity (0-10 NRS). Readable when printed without colour."""
    fig = Figure(figsize=(7.5, 2.8), layout="constrained")
    ax = fig.subplots()
    xs = list(range(len(series)))
    counts_ax = ax.twinx()
    counts_ax.bar(xs, [d.count for d in series], color="0.82", edgecolor="0.5", width=0.8)
    counts_ax.set_ylabel(labels.episodes)
    counts_ax.set_ylim(0, max([d.count for d in series] + [1]) * 2.2)
    counts_ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_zorder(counts_ax.get_zorder() + 1)  # the line above the bars
    ax.patch.set_visible(False)
    ax.plot(xs, _averages(series), color="black", lw=1.6, marker="o", ms=3.5)
    ax.set_ylim(0, 10.5)
    ax.set_ylabel(labels.intensity)
    step = max(1, len(series) // 10)
    ticks = xs[::step]
    ax.set_xticks(ticks, [series[i].day.strftime("%d %b") for i in ticks], fontsize=8)
    ax.grid(axis="y", color="0.85")
    return _png(fig, dpi=150)
