"""PNG charts with matplotlib's Agg canvas (headless, no pyplot global state, safe in a worker
thread). Every word on a chart is passed in by the caller, from content."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from bot.domain.insights import CALM, DAY_KINDS, NOT_RECORDED, TWITCHING, Day, WeekSummary

INK = "#1f3b5c"  # this week: dark enough to read on a phone in sunlight
FAINT = "#9aa5b1"
# How each kind of day is drawn in the day strip: (face, hatch, edge). The week chart may use
# colour; the report's strip must survive black-and-white printing, so it uses grey and hatching.
WEEK_DAY_STYLE = {
    CALM: ("#8cc084", "", "#4d7a47"),
    TWITCHING: ("#d9822b", "", "#8a4f14"),
    NOT_RECORDED: ("white", "///", FAINT),
}
REPORT_DAY_STYLE = {
    CALM: ("white", "", "black"),
    TWITCHING: ("0.3", "", "black"),
    NOT_RECORDED: ("white", "////", "0.55"),
}


@dataclass(frozen=True)
class DayKindLabels:
    """Legend words for the three kinds of day, and the strip's name."""

    strip: str
    calm: str
    twitching: str
    not_recorded: str

    def of(self, kind: str) -> str:
        return {CALM: self.calm, TWITCHING: self.twitching, NOT_RECORDED: self.not_recorded}[kind]


@dataclass(frozen=True)
class WeekLabels:
    title: str
    episodes: str
    intensity: str
    this_week: str
    weeks_before: str
    days: DayKindLabels


@dataclass(frozen=True)
class ReportLabels:
    episodes: str
    intensity: str
    days: DayKindLabels


def _png(fig: Figure, dpi: int) -> bytes:
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _averages(days: Sequence[Day]) -> list[float]:
    return [d.average if d.average is not None else math.nan for d in days]


def _day_strip(
    ax: Axes, days: Sequence[Day], labels: DayKindLabels, style: dict, width: float, fontsize: float
) -> None:
    """One cell per day showing its kind (recorded calm, with twitching, not recorded), and a
    legend of the three kinds under the figure."""
    xs = list(range(len(days)))
    for kind in DAY_KINDS:
        face, hatch, edge = style[kind]
        cells = [x for x, d in zip(xs, days, strict=True) if d.kind == kind]
        ax.bar(
            cells,
            [1] * len(cells),
            width=width,
            color=face,
            hatch=hatch,
            edgecolor=edge,
            linewidth=0.8,
        )
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.set_ylabel(labels.strip, rotation=0, ha="right", va="center", fontsize=fontsize)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    handles = [
        Patch(facecolor=style[k][0], hatch=style[k][1], edgecolor=style[k][2], label=labels.of(k))
        for k in DAY_KINDS
    ]
    ax.figure.legend(
        handles=handles,
        loc="outside lower center",
        ncols=3,
        frameon=False,
        fontsize=fontsize,
        handlelength=1.6,
    )


def week_chart(summary: WeekSummary, labels: WeekLabels) -> bytes:
    """Episodes per day (bars) and average intensity (line) for the last 7 days; each of the
    four weeks before is a thin faint line behind, aligned by position in the week. Under them a
    strip tells recorded-calm days, days with twitching and days not recorded apart."""
    fig = Figure(figsize=(7, 6.0), layout="constrained")
    top, bottom, strip = fig.subplots(3, 1, sharex=True, height_ratios=[3, 3, 0.55])
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
    _day_strip(strip, summary.days, labels.days, WEEK_DAY_STYLE, width=0.85, fontsize=9)
    strip.set_xticks(xs, [d.day.strftime("%a\n%d %b") for d in summary.days])
    for ax in (top, bottom):
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    top.legend(loc="upper left", frameon=False, fontsize=9)
    top.set_title(labels.title, loc="left", fontsize=12)
    return _png(fig, dpi=110)


def report_chart(series: Sequence[Day], labels: ReportLabels) -> bytes:
    """Black-and-white friendly: grey bars for episodes per day, a black line with markers for
    the day's average intensity (0-10 NRS). Readable when printed without colour."""
    fig = Figure(figsize=(7.5, 3.5), layout="constrained")
    ax, strip = fig.subplots(2, 1, sharex=True, height_ratios=[5, 0.6])
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
    _day_strip(strip, series, labels.days, REPORT_DAY_STYLE, width=1.0, fontsize=8)
    strip.set_xticks(ticks, [series[i].day.strftime("%d %b") for i in ticks], fontsize=8)
    ax.grid(axis="y", color="0.85")
    return _png(fig, dpi=150)
