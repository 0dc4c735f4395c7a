"""Where the health statements in content/ come from: content/sources.yaml, one list for the tips,
the relief routines and the safety wording.

Each source has a title, an address (``url``; only the founding article has none) and the tip
topics it covers: a tip must cite at least one source that covers its topic, so a page about sleep
cannot be the only support for a tip about pacing. Content cites sources by id in its ``source``
field, several separated by commas ("nhs-insomnia, nhs-twitch").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError


class SourceError(ValueError):
    """The sources file is missing or invalid; the message names the file."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str = Field(min_length=3)
    url: str | None = Field(default=None, pattern=r"^https://\S+$")
    topics: tuple[str, ...] = ()  # the tip topics it supports (see bot/domain/coaching.TOPICS)


def load_sources(path: Path) -> dict[str, Source]:
    """Read and check content/sources.yaml: ``id: {title, url, topics}``."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise SourceError(f"{path}: expected id: {{title, url, topics}} entries")
        sources = {str(key): Source.model_validate(value) for key, value in raw.items()}
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise SourceError(f"{path}: {exc}") from exc
    bad = [key for key in sources if not key.replace("-", "").isalnum() or key != key.lower()]
    if bad:
        raise SourceError(f"{path}: source ids must be lower-case words and dashes: {bad}")
    return sources


def source_ids(value: str) -> list[str]:
    """The ids in a ``source`` field: "a, b" -> ["a", "b"]."""
    return [part.strip() for part in value.split(",") if part.strip()]


def unknown_sources(value: str, sources: Mapping[str, Source]) -> list[str]:
    """The ids in a ``source`` field that are not in the sources file (or ["<none>"])."""
    ids = source_ids(value)
    return [i for i in ids if i not in sources] if ids else ["<none>"]
