"""Check-in domain rules: validation, the shortcut, past-time stamping, history by local day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.content import load_content
from bot.domain import checkin as rules
from bot.domain.checkin import InvalidEpisode, NoteProblem

CONTENT = load_content()
CHOICES = rules.choices_of(CONTENT.vocabulary)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # 13:00 in Berlin


def episode(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "started_at": "2026-11-25T12:00:00+00:00",
        "tz": "Europe/Berlin",
        "intensity": 5,
        "regions": ["back"],
        "duration": "minutes",
        "triggers": ["stress"],
        "tried": [],
        "note": None,
        "source": "checkin",
        "created_at": "2026-11-25T12:00:05+00:00",
        "updated_at": "2026-11-25T12:00:05+00:00",
    }
    return base | changes


def test_a_good_episode_is_valid() -> None:
    rules.validate_episode(episode(), CHOICES)
    rules.validate_episode(episode(duration=None, triggers=[], note="x" * 500), CHOICES)


@pytest.mark.parametrize(
    "changes",
    [
        {"intensity": 11},
        {"intensity": -1},
        {"intensity": "5"},
        {"intensity": True},
        {"intensity": None},
        {"regions": []},
        {"regions": ["tail"]},
        {"regions": ["back", "back"]},
        {"duration": "forever"},
        {"triggers": ["moon"]},
        {"triggers": ["stress", "stress"]},
        {"tried": "breathing"},
        {"note": "x" * 501},
        {"note": ""},
        {"source": "import"},
        {"tz": "Mars/Olympus"},
        {"started_at": "yesterday"},
        {"started_at": "2026-11-25T13:00:00+01:00"},
    ],
)
def test_a_bad_field_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidEpisode):
        rules.validate_episode(episode(**changes), CHOICES)


def test_notes_are_trimmed_and_capped() -> None:
    assert rules.clean_note("  sore after the walk \n") == "sore after the walk"
    assert rules.clean_note("x" * 500) == "x" * 500
    with pytest.raises(NoteProblem) as too_long:
        rules.clean_note("y" * 501)
    assert too_long.value.reason == "too_long" and too_long.value.length == 501
    with pytest.raises(NoteProblem, match="empty"):
        rules.clean_note("   ")


def test_toggle_keeps_vocabulary_order_and_refuses_unknown_ids() -> None:
    picked = rules.toggle([], "calves_feet", CHOICES.regions)
    picked = rules.toggle(picked, "face", CHOICES.regions)
    assert picked == ["face", "calves_feet"]
    assert rules.toggle(picked, "face", CHOICES.regions) == ["calves_feet"]
    with pytest.raises(InvalidEpisode):
        rules.toggle(picked, "tail", CHOICES.regions)


def test_build_episode_from_a_draft_keeps_the_start_time() -> None:
    draft = rules.new_draft(NOW, "Europe/Berlin", intensity=4, regions=["face"])
    draft.update(duration="seconds", triggers=["cold"])
    # Saved after midnight (local), it still belongs to when it was started.
    saved = rules.build_episode(draft, NOW + timedelta(hours=11, minutes=30), CHOICES)
    assert saved["started_at"] == "2026-11-25T12:00:00+00:00"
    assert saved["created_at"] == "2026-11-25T23:30:00+00:00"
    assert rules.local_time(saved["started_at"], saved["tz"]).day == 25
    draft["intensity"] = None
    with pytest.raises(InvalidEpisode):
        rules.build_episode(draft, NOW, CHOICES)


def test_drafts_get_different_nonces() -> None:
    nonces = {rules.new_draft(NOW, "UTC")["nonce"] for _ in range(50)}
    assert len(nonces) == 50
    assert all(len(n) == 6 and n.replace("-", "").replace("_", "").isalnum() for n in nonces)


def test_shortcut_copies_the_latest_episode_by_when_it_happened() -> None:
    older = episode(started_at="2026-11-20T08:00:00+00:00", regions=["face"], triggers=[])
    newer = episode(regions=["back", "hips_thighs"], duration="hours", triggers=["cold"])
    # Logged later, but it happened earlier ("yesterday"): not "last time".
    past = episode(
        started_at="2026-11-24T18:00:00+00:00",
        created_at="2026-11-25T13:00:00+00:00",
        regions=["arms_hands"],
    )
    latest = rules.last_episode([older, newer, past])
    assert rules.shortcut_fields(latest, CHOICES) == {
        "regions": ["back", "hips_thighs"],
        "duration": "hours",
        "triggers": ["cold"],
    }
    assert rules.shortcut_fields(None, CHOICES) is None
    assert rules.last_episode([]) is None


def test_shortcut_drops_ids_the_vocabulary_no_longer_has() -> None:
    old = episode(regions=["back", "retired_region"], duration="weeks", triggers=["moon"])
    assert rules.shortcut_fields(old, CHOICES) == {
        "regions": ["back"],
        "duration": None,
        "triggers": [],
    }
    assert rules.shortcut_fields(episode(regions=["retired_region"]), CHOICES) is None


def test_past_start_earlier_today_and_yesterday() -> None:
    berlin = "Europe/Berlin"
    assert rules.past_start(NOW, berlin, 0, "morning") == datetime(2026, 11, 25, 8, tzinfo=UTC)
    assert rules.past_start(NOW, berlin, 0, "afternoon") is None  # 14:00 is still to come
    assert rules.past_start(NOW, berlin, 1, "night") == datetime(2026, 11, 24, 22, tzinfo=UTC)
    assert rules.past_start(NOW, berlin, 2, "night") is None
    assert rules.past_start(NOW, berlin, 0, "teatime") is None
    assert rules.available_parts(NOW, berlin, 0) == ["morning"]
    assert rules.available_parts(NOW, berlin, 1) == list(rules.DAY_PARTS)
    early = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 06:00 in Berlin: nothing of today yet
    assert rules.available_parts(early, berlin, 0) == []


def test_past_start_uses_the_local_calendar_not_utc() -> None:
    # 01:00 on the 26th in Tokyo is still the 25th in UTC: "yesterday" is the 25th there.
    tokyo_now = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)
    evening = rules.past_start(tokyo_now, "Asia/Tokyo", 1, "evening")
    assert evening == datetime(2026, 11, 25, 10, tzinfo=UTC)  # 19:00 JST on the 25th


def test_past_start_across_a_dst_change() -> None:
    # Berlin springs forward on 29 March 2026: yesterday evening was UTC+1, today is UTC+2.
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert rules.past_start(now, "Europe/Berlin", 1, "evening") == datetime(
        2026, 3, 28, 18, tzinfo=UTC
    )
    assert rules.past_start(now, "Europe/Berlin", 0, "morning") == datetime(
        2026, 3, 29, 7, tzinfo=UTC
    )


def test_relative_day() -> None:
    assert rules.relative_day("2026-11-24T23:30:00+00:00", "Europe/Berlin", NOW) == "today"
    assert rules.relative_day("2026-11-24T22:30:00+00:00", "Europe/Berlin", NOW) == "yesterday"
    assert rules.relative_day("2026-11-20T12:00:00+00:00", "Europe/Berlin", NOW) == "earlier"


def test_history_groups_by_local_day_newest_first_within_14_days() -> None:
    items = [
        episode(started_at="2026-11-25T06:00:00+00:00", intensity=1),
        episode(started_at="2026-11-24T23:30:00+00:00", intensity=2),  # 00:30 on the 25th
        episode(started_at="2026-11-24T22:30:00+00:00", intensity=3),  # 23:30 on the 24th
        episode(started_at="2026-11-12T12:00:00+00:00", intensity=4),  # 14th day back: shown
        episode(started_at="2026-11-11T12:00:00+00:00", intensity=5),  # 15th: too old
    ]
    groups = rules.group_by_local_day(items, NOW, "Europe/Berlin")
    assert [(g.day.isoformat(), g.relative) for g in groups] == [
        ("2026-11-25", "today"),
        ("2026-11-24", "yesterday"),
        ("2026-11-12", "earlier"),
    ]
    assert [[e["intensity"] for e in g.episodes] for g in groups] == [[1, 2], [3], [4]]


def test_history_grouping_across_a_dst_change() -> None:
    # Berlin: CET (UTC+1) until 29 March 2026 02:00, then CEST (UTC+2).
    items = [
        episode(started_at="2026-03-28T22:30:00+00:00", intensity=1),  # 23:30 on the 28th (+1)
        episode(started_at="2026-03-28T23:30:00+00:00", intensity=2),  # 00:30 on the 29th (+1)
        episode(started_at="2026-03-29T21:30:00+00:00", intensity=3),  # 23:30 on the 29th (+2)
        episode(started_at="2026-03-29T22:30:00+00:00", intensity=4),  # 00:30 on the 30th (+2)
    ]
    now = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    groups = rules.group_by_local_day(items, now, "Europe/Berlin")
    # A fixed UTC+1 would put intensity 4 on the 29th; the real wall clock puts it on the 30th.
    assert [(g.day.isoformat(), [e["intensity"] for e in g.episodes]) for g in groups] == [
        ("2026-03-30", [4]),
        ("2026-03-29", [3, 2]),
        ("2026-03-28", [1]),
    ]
    # And in autumn (25 October 2026, back to UTC+1) the repeated hour stays on one day.
    autumn = [
        episode(started_at="2026-10-25T00:30:00+00:00", intensity=5),  # 02:30 CEST
        episode(started_at="2026-10-25T01:30:00+00:00", intensity=6),  # 02:30 CET
        episode(started_at="2026-10-25T22:30:00+00:00", intensity=7),  # 23:30 CET
        episode(started_at="2026-10-25T23:30:00+00:00", intensity=8),  # 00:30 on the 26th
    ]
    groups = rules.group_by_local_day(
        autumn, datetime(2026, 10, 26, 9, tzinfo=UTC), "Europe/Berlin"
    )
    assert [(g.day.isoformat(), [e["intensity"] for e in g.episodes]) for g in groups] == [
        ("2026-10-26", [8]),
        ("2026-10-25", [7, 6, 5]),
    ]


def test_history_same_minute_newest_saved_first() -> None:
    first = episode(intensity=1, created_at="2026-11-25T12:00:05+00:00")
    second = episode(intensity=2, created_at="2026-11-25T12:00:40+00:00")
    [group] = rules.group_by_local_day([first, second], NOW, "Europe/Berlin")
    assert [e["intensity"] for e in group.episodes] == [2, 1]


def test_history_uses_each_episodes_own_zone() -> None:
    # Logged at 23:30 in New York, then the user moved to Berlin: it stays on its own day.
    travelled = episode(started_at="2026-11-24T04:30:00+00:00", tz="America/New_York")
    [group] = rules.group_by_local_day([travelled], NOW, "Europe/Berlin")
    assert group.day.isoformat() == "2026-11-23"


def test_summary_view_resolves_labels() -> None:
    shown = rules.view(
        episode(regions=["back", "calves_feet"], triggers=["stress", "cold"]),
        CONTENT.vocabulary,
        NOW,
    )
    assert shown.details == "Back, Calves or feet · Minutes · Stress, Cold"
    assert shown.local.strftime("%H:%M") == "13:00" and shown.relative == "today"
    bare = rules.view(episode(duration=None, triggers=[]), CONTENT.vocabulary, NOW)
    assert bare.details == "Back"


def test_stamp_changes_when_an_id_is_reused() -> None:
    first = episode(created_at="2026-11-25T12:00:05+00:00")
    second = episode(created_at="2026-11-25T12:05:00+00:00")
    assert rules.stamp(first) != rules.stamp(second)
    assert rules.stamp(first) == rules.stamp(dict(first))
    assert len(rules.stamp(first)) <= 8


def test_every_day_part_has_a_label() -> None:
    # The handlers build these keys from DAY_PARTS, so the start-up key scan cannot see them.
    for part in rules.DAY_PARTS:
        assert CONTENT.t(f"checkin.part_{part}")
