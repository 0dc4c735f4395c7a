from pathlib import Path

import pytest

from bot.content import (
    CONTENT_DIR,
    ContentError,
    load_content,
    load_messages,
    message_keys_used_by_code,
)


def test_all_content_loads() -> None:
    content = load_content()
    assert content.t("onboarding.zone_set", zone="Berlin", local_time="09:00")
    assert len(content.vocabulary.regions) == 8


def test_every_key_the_code_uses_exists() -> None:
    used = message_keys_used_by_code()
    assert "onboarding.welcome" in used  # the scan does find keys
    missing = used - load_messages(CONTENT_DIR / "messages").keys()
    assert not missing


def test_missing_key_is_a_startup_error_that_names_it(tmp_path: Path) -> None:
    (tmp_path / "messages").mkdir()
    for source in (CONTENT_DIR / "messages").glob("*.yaml"):
        text = source.read_text()
        if source.name == "common.en.yaml":
            text = "\n".join(
                line for line in text.splitlines() if not line.startswith("expired_button")
            )
        (tmp_path / "messages" / source.name).write_text(text)
    for name in ("vocabulary.en.yaml", "zones.yaml"):
        (tmp_path / name).write_text((CONTENT_DIR / name).read_text())
    with pytest.raises(ContentError, match=r"common\.expired_button"):
        load_content(tmp_path)


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.en.yaml").write_text("key: [unclosed\n")
    with pytest.raises(ContentError, match=r"broken\.en\.yaml"):
        load_messages(tmp_path)


def test_messages_fit_telegram() -> None:
    content = load_content()
    for key in sorted(content.messages.keys()):
        assert len(content.t(key)) < 4096, key


def test_menu_labels_are_unique() -> None:
    content = load_content()
    labels = list(content.messages.with_prefix("menu.").values())
    assert len(labels) == len(set(labels))
