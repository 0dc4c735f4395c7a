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


def test_push_tick_seconds_and_its_former_name() -> None:
    base = {"TELEGRAM_BOT_TOKEN": GOOD}
    assert load_settings(base).push_tick_seconds == 60
    assert load_settings({**base, "COACH_PUSH_TICK_SECONDS": "30"}).push_tick_seconds == 30
    assert load_settings({**base, "COACH_TIP_TICK_SECONDS": "15"}).push_tick_seconds == 15
    for bad in ("soon", "0", "-5", "7200"):
        with pytest.raises(ConfigError, match="COACH_PUSH_TICK_SECONDS"):
            load_settings({**base, "COACH_PUSH_TICK_SECONDS": bad})


def test_database_url_selects_postgres_and_stays_secret() -> None:
    from bot.storage import FileStore, store_for
    from bot.storage.postgres import PostgresStore

    assert load_settings({"TELEGRAM_BOT_TOKEN": GOOD}).database_url is None
    assert isinstance(store_for(load_settings({"TELEGRAM_BOT_TOKEN": GOOD})), FileStore)
    url = "postgresql://coach:pw-9f3@db.internal:5432/coach"
    env = {"TELEGRAM_BOT_TOKEN": GOOD, "COACH_DATABASE_URL": url, "COACH_DB_POOL_SIZE": "3",
           "COACH_DB_POOL_TIMEOUT": "2.5"}  # fmt: skip
    settings = load_settings(env)
    assert settings.database_url is not None and settings.database_url.reveal() == url
    assert "pw-9f3" not in repr(settings)
    store = store_for(settings)  # not opened: nothing is contacted
    assert isinstance(store, PostgresStore)
    assert (store.pool_size, store.pool_timeout) == (3, 2.5)
    assert "pw-9f3" not in store.describe()


@pytest.mark.parametrize(
    ("name", "value"),
    [("COACH_DATABASE_URL", "mysql://x"), ("COACH_DB_POOL_SIZE", "0"),
     ("COACH_DB_POOL_TIMEOUT", "soon")],
)  # fmt: skip
def test_bad_database_settings_are_one_clear_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"TELEGRAM_BOT_TOKEN": GOOD, name: value})


def test_flood_limit() -> None:
    assert load_settings({"TELEGRAM_BOT_TOKEN": GOOD}).flood_limit == 20
    off = load_settings({"TELEGRAM_BOT_TOKEN": GOOD, "COACH_FLOOD_LIMIT": "0"})
    assert off.flood_limit == 0
    with pytest.raises(ConfigError, match="COACH_FLOOD_LIMIT"):
        load_settings({"TELEGRAM_BOT_TOKEN": GOOD, "COACH_FLOOD_LIMIT": "lots"})
