from datetime import UTC, datetime, time

import pytest

from bot.domain.zones import (
    format_clock_time,
    is_valid_zone,
    local_now,
    parse_clock_time,
    resolve_zone,
    zone_label,
)

CITIES = {"paris": "Europe/Paris", "delhi": "Asia/Kolkata"}


@pytest.mark.parametrize(
    ("typed", "zone"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("europe/berlin", "Europe/Berlin"),
        ("Berlin", "Europe/Berlin"),
        ("  new   york ", "America/New_York"),
        ("New_York", "America/New_York"),
        ("Kathmandu", "Asia/Kathmandu"),
        ("paris", "Europe/Paris"),
        ("Delhi", "Asia/Kolkata"),
        ("UTC", "UTC"),
        ("utc+2", "Etc/GMT-2"),
        ("UTC-5", "Etc/GMT+5"),
        ("+05:30", "Asia/Kolkata"),
        ("GMT+5:45", "Asia/Kathmandu"),
        ("UTC+0", "UTC"),
    ],
)
def test_resolve_zone(typed: str, zone: str) -> None:
    assert resolve_zone(typed, CITIES) == zone
    assert is_valid_zone(zone)


@pytest.mark.parametrize(
    "typed", ["", "Atlantis", "UTC+15", "+05:17", "Mars/Olympus", "x" * 100, "🙂"]
)
def test_unknown_zones(typed: str) -> None:
    assert resolve_zone(typed, CITIES) is None


def test_zone_labels() -> None:
    assert zone_label("Europe/Berlin") == "Berlin"
    assert zone_label("America/New_York") == "New York"
    assert zone_label("Etc/GMT-2") == "UTC+2"
    assert zone_label("Etc/GMT+5") == "UTC-5"


def test_local_now_follows_dst() -> None:
    winter = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 15, 12, 0, tzinfo=UTC)
    assert local_now(winter, "Europe/Berlin").hour == 13
    assert local_now(summer, "Europe/Berlin").hour == 14


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("8:30", time(8, 30)),
        ("08:30", time(8, 30)),
        ("20.15", time(20, 15)),
        ("23:59", time(23, 59)),
    ],
)
def test_parse_clock_time(typed: str, expected: time) -> None:
    assert parse_clock_time(typed) == expected
    assert format_clock_time(expected) == f"{expected.hour:02d}:{expected.minute:02d}"


@pytest.mark.parametrize("typed", ["24:00", "7", "07:60", "seven", "", "7:5", "-1:00"])
def test_bad_clock_times(typed: str) -> None:
    assert parse_clock_time(typed) is None
