"""The deploy files agree with each other (the linters check each file on its own)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _active_keys(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {line.split("=", 1)[0] for line in lines if re.match(r"[A-Z_]+=", line)}


def test_env_example_does_not_override_what_the_image_and_unit_set() -> None:
    # env_file / EnvironmentFile values win over the image's ENV and the unit's Environment=,
    # so an active COACH_DATA_DIR=./data would put the data on a read-only filesystem.
    fixed = {"COACH_DATA_DIR", "COACH_CONTENT_DIR", "WEBHOOK_LISTEN"}
    assert not _active_keys(DEPLOY / ".env.example") & fixed
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    unit = (DEPLOY / "fibro-twitch-coach.service").read_text(encoding="utf-8")
    assert "COACH_DATA_DIR=/data" in dockerfile and "COACH_CONTENT_DIR=/app/content" in dockerfile
    assert "Environment=COACH_DATA_DIR=/var/lib/fibro-twitch-coach" in unit
    assert "StateDirectory=fibro-twitch-coach" in unit


def test_compose_builds_the_dockerfile_and_keeps_data_on_a_volume() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    bot = compose["services"]["bot"]
    assert (DEPLOY / bot["build"]["context"] / bot["build"]["dockerfile"]).is_file()
    volume, target = bot["volumes"][0].split(":")
    assert target == "/data" and volume in compose["volumes"]
    assert bot["env_file"] == [".env"] and bot["read_only"] is True
    assert "no-new-privileges:true" in bot["security_opt"]
