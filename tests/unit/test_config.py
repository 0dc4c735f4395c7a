from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_settings, parse_token

GOOD = "123456789:AAHxk3Jd9-abcdefghijklmnopqrstuvwxyz_0"


def test_missing_token_explains_botfather() -> None:
    with pytest.raises(ConfigError, match="BotFather"):
        load_settings({})


@pytest.mark.parametrize(
    "bad", ["abc", "123:short", "12345678:has spaces in it and more text!!", ":" + "a" * 40]
)
def test_malformed_token_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_token(bad)
    assert bad not in str(info.value)
    assert "malformed" in str(info.value)


def test_secret_never_shows_itself() -> None:
    secret = parse_token(GOOD)
    settings = load_settings({"TELEGRAM_BOT_TOKEN": GOOD})
    for shown in (repr(secret), str(secret), f"{secret}", repr(settings), str(settings)):
        assert GOOD not in shown
    assert secret.reveal() == GOOD
    assert Secret(GOOD) == secret


def test_defaults_and_base_urls() -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": GOOD})
    assert settings.data_dir == Path("data")
    assert settings.base_url is None
    custom = load_settings(
        {
            "TELEGRAM_BOT_TOKEN": GOOD,
            "TELEGRAM_BASE_URL": "http://127.0.0.1:8081/bot",
            "COACH_DATA_DIR": "/tmp/x",
        }
    )
    assert custom.base_file_url == "http://127.0.0.1:8081/file/bot"
    assert custom.data_dir == Path("/tmp/x")
    with pytest.raises(ConfigError):
        load_settings({"TELEGRAM_BOT_TOKEN": GOOD, "TELEGRAM_BASE_URL": "ftp://x"})


def test_flood_limit() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": GOOD}).flood_limit == 20
    off = load_settings({"TELEGRAM_BOT_TOKEN": GOOD, "COACH_FLOOD_LIMIT": "0"})
    assert off.flood_limit == 0
    with pytest.raises(ConfigError, match="COACH_FLOOD_LIMIT"):
        load_settings({"TELEGRAM_BOT_TOKEN": GOOD, "COACH_FLOOD_LIMIT": "lots"})
