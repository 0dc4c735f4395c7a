"""The relief ranking rule and timer math (bot/domain/relief.py)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain import relief
from bot.domain.relief import Routine, Step


def _routine(rid: str, rank: int = 50, holds: tuple[int | None, ...] = (None,)) -> Routine:
    return Routine(
        id=rid,
        title=rid.title(),
        regions=("calves_feet",),
        steps=tuple(Step(text="do it", seconds=h, timer="hold" if h else None) for h in holds),
        safety=("Stop if the pain sharpens.",),
        source="seed",
        default_rank=rank,
    )


ROUTINES = [_routine("stretch", 10), _routine("massage", 20), _routine("warmth", 30)]


class FixedRandom(random.Random):
    """A random source that always returns the same number."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


def _ids(routines: list[Routine]) -> list[str]:
    return [r.id for r in routines]


def test_without_answers_the_default_order_is_kept_and_nothing_explores() -> None:
    assert _ids(relief.rank(ROUTINES, [], rng=FixedRandom(0.0))) == [
        "stretch",
        "massage",
        "warmth",
    ]


def test_a_routine_that_helped_repeatedly_is_offered_first() -> None:
    answers = [("warmth", "much_better")] * 3 + [("stretch", "same")]
    ranked = relief.rank(ROUTINES, answers, rng=FixedRandom(0.99))
    assert _ids(ranked)[0] == "warmth"
    assert relief.best_so_far(ROUTINES, answers) == ROUTINES[2]


def test_one_answer_does_not_dominate_several() -> None:
    # One "much better" (0.67) vs four "a bit better" (0.61): close, and the smoothing keeps a
    # single lucky answer from burying a routine that helps steadily by a wide margin.
    one = relief.evidence("a", [("a", "much_better")])
    steady = relief.evidence("b", [("b", "a_bit_better")] * 4)
    assert one.score == pytest.approx(2 / 3)
    assert steady.score == pytest.approx((4 * 2 / 3 + 1) / 6)
    assert abs(one.score - steady.score) < 0.1
    # A routine answered "worse" once ranks below an untried one, but is not buried for ever.
    worse = relief.evidence("c", [("c", "worse")])
    assert worse.score == pytest.approx(1 / 3) and worse.score < relief.PRIOR


def test_worse_answers_push_a_routine_down() -> None:
    answers = [("stretch", "worse"), ("stretch", "worse")]
    assert _ids(relief.rank(ROUTINES, answers, rng=FixedRandom(0.99))) == [
        "massage",
        "warmth",
        "stretch",
    ]
    assert relief.best_so_far(ROUTINES, answers) is None  # nothing has helped yet


def test_untried_routines_are_still_offered_sometimes() -> None:
    answers = [("stretch", "much_better")] * 5
    assert _ids(relief.rank(ROUTINES, answers, rng=FixedRandom(0.99)))[0] == "stretch"
    explored = relief.rank(ROUTINES, answers, rng=FixedRandom(0.1))
    assert _ids(explored) == ["massage", "stretch", "warmth"]  # first untried, then by score
    # Over many requests, about EXPLORE of them offer something untried.
    rng = random.Random(7)
    firsts = [relief.rank(ROUTINES, answers, rng=rng)[0].id for _ in range(1000)]
    share = firsts.count("massage") / len(firsts)
    assert 0.15 < share < 0.25
    assert "warmth" not in firsts  # exploration takes the first untried in default order


def test_no_exploration_once_everything_has_been_tried() -> None:
    answers = [("stretch", "much_better"), ("massage", "same"), ("warmth", "worse")]
    ranked = relief.rank(ROUTINES, answers, rng=FixedRandom(0.0))
    assert _ids(ranked) == ["stretch", "massage", "warmth"]


def test_answers_for_other_routines_or_unknown_outcomes_are_ignored() -> None:
    answers = [("nope", "much_better"), ("stretch", "fantastic")]
    assert relief.evidence("stretch", answers) == relief.Evidence(answers=0, score=relief.PRIOR)


def test_hold_delay_scales_and_includes_the_lead_in() -> None:
    held, tap = Step(text="x", seconds=30, timer="hold"), Step(text="x")
    assert relief.hold_delay(held, 1.0) == 30 + relief.LEAD_IN_SECONDS
    assert relief.hold_delay(held, 0.01) == pytest.approx(0.35)
    assert relief.hold_delay(tap, 1.0) is None


def test_followup_minutes_setting_is_clamped_with_a_default() -> None:
    assert relief.followup_minutes(None) == 10
    assert relief.followup_minutes({"relief_followup_minutes": 20}) == 20
    assert relief.followup_minutes({"relief_followup_minutes": 1}) == 5
    assert relief.followup_minutes({"relief_followup_minutes": 90}) == 30
    assert relief.followup_minutes({"relief_followup_minutes": "15"}) == 10
    assert relief.followup_minutes({"relief_followup_minutes": True}) == 10


def test_followup_due_and_what_to_do_after_a_restart() -> None:
    ended = datetime(2026, 3, 29, 0, 55, tzinfo=UTC)  # across the EU DST change: UTC is unmoved
    due = relief.followup_due(ended, 10, 1.0)
    assert due == ended + timedelta(minutes=10)
    assert relief.followup_due(ended, 10, 0.001) == ended + timedelta(seconds=0.6)
    assert relief.followup_action(due, due - timedelta(seconds=90)) == ("wait", 90.0)
    assert relief.followup_action(due, due) == ("send", 0.0)
    assert relief.followup_action(due, due + timedelta(minutes=59)) == ("send", 0.0)
    assert relief.followup_action(due, due + timedelta(hours=1)) == ("send", 0.0)
    assert relief.followup_action(due, due + timedelta(hours=1, seconds=1)) == ("drop", 0.0)


def test_next_step() -> None:
    assert relief.next_step(0, 3) == 1
    assert relief.next_step(2, 3) is None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"id": "Has Spaces"}, "id"),
        ({"id": "x" * 25}, "id"),
        ({"safety": ()}, "safety"),
        ({"steps": ()}, "steps"),
        ({"regions": ("back", "back")}, "duplicate"),
    ],
)
def test_schema_rejects_bad_routines(changes: dict[str, object], message: str) -> None:
    data = _routine("ok").model_dump() | changes
    with pytest.raises(ValueError, match=message):
        Routine.model_validate(data)


def test_schema_rejects_a_timer_longer_than_twenty_minutes_and_a_long_hold() -> None:
    with pytest.raises(ValueError):
        Step(text="cold pack", seconds=21 * 60, timer="keep")
    with pytest.raises(ValueError, match="held for at most"):
        Step(text="stretch", seconds=90, timer="hold")
    Step(text="warmth", seconds=600, timer="keep")


def test_a_timed_step_says_what_kind_of_timer_it_is() -> None:
    with pytest.raises(ValueError, match="both seconds and timer"):
        Step(text="breathe", seconds=60)
    with pytest.raises(ValueError, match="both seconds and timer"):
        Step(text="breathe", timer="breathe")


def test_timer_wording_by_kind_never_a_hold_for_breathing() -> None:
    def words(seconds: int, timer: str) -> tuple[str, dict[str, int]] | None:
        return relief.timer_message(Step(text="x", seconds=seconds, timer=timer))  # type: ignore[arg-type]

    assert words(30, "hold") == ("relief.timer_hold", {"seconds": 30})
    assert words(60, "breathe") == ("relief.timer_breathe", {"seconds": 60})
    assert words(150, "breathe") == ("relief.timer_breathe_minutes", {"minutes": 2})
    assert words(45, "keep") == ("relief.timer_keep", {"seconds": 45})
    assert words(600, "keep") == ("relief.timer_keep_minutes", {"minutes": 10})
    assert relief.timer_message(Step(text="x")) is None
    assert relief.timer_done_message(Step(text="x", seconds=60, timer="breathe")) == (
        "relief.timer_done_breathe"
    )


def test_time_scale_comes_from_the_environment() -> None:
    from bot.config import ConfigError, load_settings

    token = "123456:" + "A" * 35
    assert load_settings({"TELEGRAM_BOT_TOKEN": token}).time_scale == 1.0
    assert load_settings({"TELEGRAM_BOT_TOKEN": token, "COACH_TIME_SCALE": "0.01"}).time_scale == (
        0.01
    )
    for bad in ("0", "-1", "2", "fast", "nan"):
        with pytest.raises(ConfigError, match="COACH_TIME_SCALE"):
            load_settings({"TELEGRAM_BOT_TOKEN": token, "COACH_TIME_SCALE": bad})
