"""Pure statistics over a person's own log: daily series, the weekly summary, the pattern rule,
the persistence rule and report figures. No Telegram, no I/O; instants come in as arguments.

Episodes and relief runs are the shared contract documents (see the brief): episodes carry
``started_at`` (ISO UTC) and ``tz`` (the person's zone at that moment), so an episode's *local day*
is taken in its own zone, which keeps history right after someone travels or moves.

Rules, as documented for people reading the code (and the README):

* **Three kinds of day**: a local day is *recorded* when the diary has an answer for it or an
  episode was logged on it. Recorded days are *calm* (diary "none" and no episode) or *with
  twitching* (a diary rating of "a little" or more, and/or an episode). Every other day is *not
  recorded*: unknown, never counted as calm. The calmest and hardest day are chosen among
  recorded days only.
* **Enough data for a chart**: at least ``MIN_EPISODES_FOR_CHART`` episodes or as many diary
  days in the last five weeks (this week plus the four before). Otherwise the summary says so
  kindly and draws nothing.
* **Patterns**: for people who use the diary (at least ``patterns.MIN_RECORDED_DAYS`` diary days
  in the window) the diary rule of ``bot.domain.patterns`` runs over recorded days. People who
  never use the diary keep the episode-only rule below.
* **Episode-only pattern rule** (``trigger_patterns``): only days with at least one logged
  episode count (a day with nothing logged may be a calm day or a day the person did not log, so
  it is not evidence). For each trigger, "trigger days" are logged days where any episode named
  it, "other days" are the remaining logged days. Only with at least ``MIN_PATTERN_DAYS`` of
  each, and only when the trigger days look clearly *worse* (average intensity at least
  ``PATTERN_INTENSITY_GAP`` points higher, or at least ``PATTERN_COUNT_RATIO`` times as many
  episodes per day and at least ``PATTERN_COUNT_GAP`` more), is a pattern reported. Wording is
  "seems to go with", never "causes": a same-day co-occurrence in a self-kept log cannot show
  cause.
* **Persistence rule** (``persistence_flags``), after the NHS advice on twitching: within the last
  ``PERSISTENCE_WINDOW_DAYS`` days, twitching logged on days spanning more than 14 days
  ("lasting"), or logged in more than one body region over that time ("several_places"; the
  "many places" region counts as more than one). The caller prompts at most once a month.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.domain import patterns as diary_patterns
from bot.domain.zones import zone

MIN_EPISODES_FOR_CHART = 3
WEEK_DAYS = 7
COMPARE_WEEKS = 4  # the weeks before this one, drawn faintly for comparison
PATTERN_WINDOW_DAYS = 56
MIN_PATTERN_DAYS = 3
PATTERN_INTENSITY_GAP = 1.5  # points on the 0-10 scale
PATTERN_COUNT_RATIO = 1.5
PATTERN_COUNT_GAP = 0.5  # episodes per day
PERSISTENCE_WINDOW_DAYS = 28
PERSISTENCE_SPAN_DAYS = 14
MANY_REGIONS = "many"
IGNORED_TRIGGERS = frozenset({"not_sure"})  # "not sure" is not a trigger to compare
# How a relief follow-up answer scores when ranking what helped (the short change scale).
OUTCOME_SCORES = {"much_better": 2, "a_bit_better": 1, "same": 0, "worse": -1}
HELPED = frozenset({"much_better", "a_bit_better"})


def parse_instant(value: str | None) -> datetime | None:
    """An ISO-8601 string as an aware UTC datetime; None for missing or malformed values."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)  # contract says UTC; be forgiving
    return parsed.astimezone(UTC)


def _zone(name: str | None, fallback: str) -> ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            try:
                return zone(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return zone("UTC")


def local_day(episode: dict, fallback_zone: str) -> date | None:
    """The calendar day the episode started on, in the zone it was logged in."""
    instant = parse_instant(episode.get("started_at"))
    if instant is None:
        return None
    return instant.astimezone(_zone(episode.get("tz"), fallback_zone)).date()


def _intensity(episode: dict) -> int | None:
    value = episode.get("intensity")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10:
        return None
    return value


CALM, TWITCHING, NOT_RECORDED = "calm", "twitching", "not_recorded"
DAY_KINDS = (CALM, TWITCHING, NOT_RECORDED)


@dataclass(frozen=True)
class Day:
    """One local day: how many episodes, their intensities, and the diary's rating (0-3) if the
    day was answered."""

    day: date
    intensities: tuple[int, ...] = ()
    count: int = 0
    rating: int | None = None

    @property
    def kind(self) -> str:
        """CALM, TWITCHING or NOT_RECORDED (module docstring)."""
        if self.count or (self.rating is not None and self.rating >= 1):
            return TWITCHING
        return CALM if self.rating == 0 else NOT_RECORDED

    @property
    def recorded(self) -> bool:
        return self.kind != NOT_RECORDED

    @property
    def level(self) -> int:
        """How hard the day was on the diary's 0-3 scale: its rating, or at least what its
        strongest episode says (1-3 a little, 4-6 moderate, 7-10 a lot)."""
        from_episodes = (
            -(-max(self.intensities) * 3 // 10) if self.intensities else int(bool(self.count))
        )
        return max(self.rating or 0, from_episodes)

    @property
    def average(self) -> float | None:
        return sum(self.intensities) / len(self.intensities) if self.intensities else None

    @property
    def burden(self) -> int:
        """Sum of intensities: how hard the day was overall (count and strength together)."""
        return sum(self.intensities)


def by_day(episodes: Iterable[dict], zone: str) -> dict[date, list[dict]]:
    days: dict[date, list[dict]] = defaultdict(list)
    for episode in episodes:
        day = local_day(episode, zone)
        if day is not None:
            days[day].append(episode)
    return days


def diary_ratings(diary_days: Iterable[dict]) -> dict[date, int]:
    """Local date -> rating (0-3) of the diary's day records; malformed ones skipped."""
    return {d.day: d.rating for d in diary_patterns.diary_days(diary_days)}


def daily_series(
    episodes: Iterable[dict],
    zone: str,
    last_day: date,
    days: int,
    diary_days: Iterable[dict] = (),
) -> list[Day]:
    """One Day per calendar day, the ``days`` days up to ``last_day``, empty days included."""
    grouped = by_day(episodes, zone)
    ratings = diary_ratings(diary_days)
    series = []
    for offset in range(days - 1, -1, -1):
        day = last_day - timedelta(days=offset)
        items = grouped.get(day, [])
        values = tuple(v for v in (_intensity(e) for e in items) if v is not None)
        series.append(Day(day=day, intensities=values, count=len(items), rating=ratings.get(day)))
    return series


@dataclass(frozen=True)
class DayCounts:
    """How many days of a period were of each kind."""

    total: int
    calm: int
    twitching: int

    @property
    def recorded(self) -> int:
        return self.calm + self.twitching

    @property
    def not_recorded(self) -> int:
        return self.total - self.recorded


def day_counts(days: Sequence[Day]) -> DayCounts:
    kinds = Counter(d.kind for d in days)
    return DayCounts(total=len(days), calm=kinds[CALM], twitching=kinds[TWITCHING])


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Period:
    count: int
    average: float | None


def period_of(days: Sequence[Day]) -> Period:
    values = [v for d in days for v in d.intensities]
    return Period(count=sum(d.count for d in days), average=_mean(values))


@dataclass(frozen=True)
class ReliefScore:
    routine_id: str
    answered: int
    helped: int
    score: float


def relief_ranking(runs: Iterable[dict], since: datetime | None = None) -> list[ReliefScore]:
    """Routines ranked by their follow-up answers (best first); unanswered runs don't count."""
    grouped: dict[str, list[str]] = defaultdict(list)
    for run in runs:
        outcome = run.get("outcome")
        routine = run.get("routine_id")
        if outcome not in OUTCOME_SCORES or not isinstance(routine, str):
            continue
        started = parse_instant(run.get("started_at"))
        if since is not None and (started is None or started < since):
            continue
        grouped[routine].append(outcome)
    ranking = [
        ReliefScore(
            routine_id=routine,
            answered=len(outcomes),
            helped=sum(1 for o in outcomes if o in HELPED),
            score=sum(OUTCOME_SCORES[o] for o in outcomes) / len(outcomes),
        )
        for routine, outcomes in grouped.items()
    ]
    return sorted(ranking, key=lambda r: (-r.score, -r.answered, r.routine_id))


def best_relief(runs: Iterable[dict], since: datetime | None = None) -> ReliefScore | None:
    """The routine that helped most, if any answered run actually helped."""
    ranking = relief_ranking(runs, since)
    return ranking[0] if ranking and ranking[0].helped > 0 and ranking[0].score > 0 else None


def top_triggers(episodes: Iterable[dict], limit: int = 3) -> list[tuple[str, int]]:
    counts: Counter[str] = Counter()
    for episode in episodes:
        for trigger in set(episode.get("triggers") or []):
            if isinstance(trigger, str) and trigger not in IGNORED_TRIGGERS:
                counts[trigger] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def _values(day_groups: list[list[dict]]) -> list[float]:
    return [v for items in day_groups for e in items if (v := _intensity(e)) is not None]


@dataclass(frozen=True)
class Pattern:
    """Trigger days looked worse than other days; ``kind`` is "stronger" or "more_often"."""

    trigger: str
    kind: str
    with_value: float
    without_value: float
    with_days: int
    without_days: int


def trigger_patterns(episodes: Iterable[dict], zone: str, limit: int = 2) -> list[Pattern]:
    """The pattern rule (see module docstring): biggest differences first."""
    grouped = by_day(episodes, zone)
    if not grouped:
        return []
    triggers = {
        t
        for items in grouped.values()
        for e in items
        for t in (e.get("triggers") or [])
        if isinstance(t, str) and t not in IGNORED_TRIGGERS
    }
    found: list[tuple[float, Pattern]] = []
    for trigger in sorted(triggers):
        with_days, without_days = [], []
        for items in grouped.values():
            named = any(trigger in (e.get("triggers") or []) for e in items)
            (with_days if named else without_days).append(items)
        if len(with_days) < MIN_PATTERN_DAYS or len(without_days) < MIN_PATTERN_DAYS:
            continue
        avg_with = _mean(
            [v for items in with_days for e in items if (v := _intensity(e)) is not None]
        )
        avg_without = _mean(
            [v for items in without_days for e in items if (v := _intensity(e)) is not None]
        )
        per_day_with = _mean([len(items) for items in with_days]) or 0.0
        per_day_without = _mean([len(items) for items in without_days]) or 0.0
        common = (trigger, len(with_days), len(without_days))
        if (
            avg_with is not None
            and avg_without is not None
            and avg_with - avg_without >= PATTERN_INTENSITY_GAP
        ):
            pattern = Pattern(common[0], "stronger", avg_with, avg_without, *common[1:])
            found.append(((avg_with - avg_without) / 10, pattern))
        elif (
            per_day_with >= PATTERN_COUNT_RATIO * per_day_without
            and per_day_with - per_day_without >= PATTERN_COUNT_GAP
        ):
            pattern = Pattern(common[0], "more_often", per_day_with, per_day_without, *common[1:])
            found.append(((per_day_with - per_day_without) / max(per_day_without, 1), pattern))
    found.sort(key=lambda item: (-item[0], item[1].trigger))
    return [pattern for _, pattern in found[:limit]]


@dataclass(frozen=True)
class WeekSummary:
    """Everything the weekly message and chart show."""

    days: list[Day]  # this week, oldest first (7 days ending today)
    previous_weeks: list[list[Day]]  # COMPARE_WEEKS lists of 7 days, most recent week first
    this_week: Period
    last_week: Period
    triggers: list[tuple[str, int]]
    relief: ReliefScore | None
    best_day: Day | None
    worst_day: Day | None
    patterns: list[Pattern] = field(default_factory=list)  # episode-only rule
    findings: list[diary_patterns.Comparison] = field(default_factory=list)  # the diary rule

    @property
    def enough_data(self) -> bool:
        weeks = [self.days, *self.previous_weeks]
        episodes = sum(d.count for w in weeks for d in w)
        answered = sum(d.rating is not None for w in weeks for d in w)
        return max(episodes, answered) >= MIN_EPISODES_FOR_CHART

    @property
    def kinds(self) -> DayCounts:
        return day_counts(self.days)


def week_summary(
    episodes: Sequence[dict],
    runs: Sequence[dict],
    zone: str,
    now: datetime,
    diary_days: Sequence[dict] = (),
    factors: Sequence[str] = (),
    lagged: Collection[str] = (),
) -> WeekSummary:
    """The last 7 local days (ending today) against the week before, plus four weeks faintly.

    ``diary_days`` are the diary's day records; ``factors`` the day factors the diary rule
    compares (``lagged`` ones with the next day too)."""
    today = now.astimezone(_zone(zone, "UTC")).date()
    span = WEEK_DAYS * (COMPARE_WEEKS + 1)
    series = daily_series(episodes, zone, today, span, diary_days)
    this_week = series[-WEEK_DAYS:]
    previous = [
        series[len(series) - WEEK_DAYS * (k + 1) : len(series) - WEEK_DAYS * k]
        for k in range(1, COMPARE_WEEKS + 1)
    ]
    week_start = this_week[0].day
    in_week = [e for e in episodes if (d := local_day(e, zone)) is not None and d >= week_start]
    recorded = [d for d in this_week if d.recorded]
    best = worst = None
    if len(recorded) >= 2:
        # Calmest and hardest of the recorded days (never an unrecorded one, which may have been
        # anything); ties go to the later day.
        best = min(reversed(recorded), key=lambda d: (d.level, d.burden, d.count))
        worst = max(reversed(recorded), key=lambda d: (d.level, d.burden, d.count))
        if (best.level, best.burden, best.count) == (worst.level, worst.burden, worst.count):
            best = worst = None  # every recorded day alike: nothing stands out
    pattern_start = today - timedelta(days=PATTERN_WINDOW_DAYS - 1)
    recent = [e for e in episodes if (d := local_day(e, zone)) is not None and d >= pattern_start]
    answered = [d for d in diary_ratings(diary_days) if pattern_start <= d <= today]
    uses_diary = len(answered) >= diary_patterns.MIN_RECORDED_DAYS
    return WeekSummary(
        days=this_week,
        previous_weeks=previous,
        this_week=period_of(this_week),
        last_week=period_of(previous[0]),
        triggers=top_triggers(in_week),
        relief=best_relief(runs, since=now - timedelta(days=WEEK_DAYS)),
        best_day=best,
        worst_day=worst,
        patterns=[] if uses_diary else trigger_patterns(recent, zone),
        findings=diary_patterns.patterns(diary_days, factors, lagged, last_day=today)
        if uses_diary
        else [],
    )


def persistence_flags(episodes: Iterable[dict], zone: str, now: datetime) -> list[str]:
    """The persistence rule (module docstring): [] or some of "lasting", "several_places"."""
    today = now.astimezone(_zone(zone, "UTC")).date()
    start = today - timedelta(days=PERSISTENCE_WINDOW_DAYS - 1)
    days: list[date] = []
    regions: set[str] = set()
    for episode in episodes:
        day = local_day(episode, zone)
        if day is None or not start <= day <= today:
            continue
        days.append(day)
        regions.update(r for r in (episode.get("regions") or []) if isinstance(r, str))
    flags = []
    if days and (max(days) - min(days)).days > PERSISTENCE_SPAN_DAYS:
        flags.append("lasting")
    if len(regions) > 1 or MANY_REGIONS in regions:
        flags.append("several_places")
    return flags


@dataclass(frozen=True)
class ReportData:
    """Figures for the clinician report over ``days`` local days ending ``last_day``."""

    first_day: date
    last_day: date
    series: list[Day]
    episode_count: int
    days_with_episodes: int
    average: float | None
    highest: int | None
    first_half_avg: float | None
    second_half_avg: float | None
    regions: list[tuple[str, int]]
    triggers: list[tuple[str, int]]
    relief: list[tuple[str, int, Counter[str]]]  # routine, times tried, outcome counts
    kinds: DayCounts = DayCounts(0, 0, 0)
    factor_rows: list[diary_patterns.FactorRow] = field(default_factory=list)


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    return (-item[1], item[0])


def report_data(
    episodes: Sequence[dict],
    runs: Sequence[dict],
    zone: str,
    now: datetime,
    days: int,
    diary_days: Sequence[dict] = (),
    factors: Sequence[str] = (),
) -> ReportData:
    today = now.astimezone(_zone(zone, "UTC")).date()
    first = today - timedelta(days=days - 1)
    series = daily_series(episodes, zone, today, days, diary_days)
    in_range = [
        e for e in episodes if (d := local_day(e, zone)) is not None and first <= d <= today
    ]
    values = [v for e in in_range if (v := _intensity(e)) is not None]
    half = days // 2
    regions: Counter[str] = Counter()
    for episode in in_range:
        regions.update(r for r in set(episode.get("regions") or []) if isinstance(r, str))
    since = datetime.combine(first, datetime.min.time(), _zone(zone, "UTC")).astimezone(UTC)
    tried: Counter[str] = Counter()
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    for run in runs:
        routine = run.get("routine_id")
        started = parse_instant(run.get("started_at"))
        if not isinstance(routine, str) or started is None or started < since:
            continue
        tried[routine] += 1
        outcomes[routine][run.get("outcome") or "no_answer"] += 1
    return ReportData(
        first_day=first,
        last_day=today,
        series=series,
        episode_count=len(in_range),
        days_with_episodes=sum(1 for d in series if d.count),
        average=_mean(values),
        highest=max(values) if values else None,
        first_half_avg=period_of(series[:half]).average,
        second_half_avg=period_of(series[half:]).average,
        regions=sorted(regions.items(), key=lambda kv: (-kv[1], kv[0])),
        triggers=top_triggers(in_range, limit=20),
        relief=[
            (r, n, outcomes[r]) for r, n in sorted(tried.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        kinds=day_counts(series),
        factor_rows=diary_patterns.factor_table(diary_days, factors, first, today),
    )
