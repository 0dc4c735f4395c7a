"""Load and validate everything the user reads from ``content/`` (YAML), failing fast and clearly.

Words live in content files, never in code. Code asks for a message by key
(``t("onboarding.welcome")``); the keys the code uses are found by scanning the package source,
so a key missing from the YAML is a start-up error that names it, not a crash in front of a user.
"""

from __future__ import annotations

import os
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.domain.coaching import TipLibrary, TipLibraryError, load_tip_library
from bot.domain.relief import Library, RoutineError, load_library
from bot.domain.sources import Source, SourceError, load_sources

CONTENT_DIR = Path(
    os.environ.get("COACH_CONTENT_DIR", Path(__file__).resolve().parent.parent / "content")
)
PACKAGE_DIR = Path(__file__).resolve().parent
_KEY_USE = re.compile(r"""\bt\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
_ID = r"^[a-z0-9_]+$"


class ContentError(RuntimeError):
    """Content is missing or invalid; the message names the file and the problem."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Choice(Strict):
    """One tappable option with a stable id (stored) and a label (shown)."""

    id: str = Field(pattern=_ID)
    label: str = Field(min_length=1, max_length=40)


class ZoneButton(Strict):
    zone: str
    label: str = Field(min_length=1, max_length=30)


class Vocabulary(Strict):
    """Tappable choices whose ids are stored in people's data (see content/vocabulary.en.yaml)."""

    regions: tuple[Choice, ...] = Field(min_length=1)
    durations: tuple[Choice, ...] = Field(min_length=1)
    triggers: tuple[Choice, ...] = Field(min_length=1)

    @field_validator("regions", "durations", "triggers")
    @classmethod
    def _unique(cls, items: tuple[Choice, ...]) -> tuple[Choice, ...]:
        ids = [c.id for c in items]
        if len(ids) != len(set(ids)):
            raise ValueError("duplicate ids")
        return items

    @staticmethod
    def label(choices: tuple[Choice, ...], choice_id: str) -> str:
        """The label for a stored id (the id itself if content no longer has it)."""
        return next((c.label for c in choices if c.id == choice_id), choice_id)


class Zones(Strict):
    """Time-zone helpers for onboarding: quick buttons and city names people type."""

    buttons: tuple[ZoneButton, ...] = Field(min_length=1)
    cities: dict[str, str]
    tip_times: tuple[str, ...] = Field(min_length=1)


class Messages:
    """Flat ``section.key`` -> text, formatted with ``str.format`` placeholders."""

    def __init__(self, texts: dict[str, str]) -> None:
        self._texts = texts

    def __call__(self, key: str, **values: Any) -> str:
        text = self._texts[key]
        return text.format(**values) if values else text

    def __contains__(self, key: str) -> bool:
        return key in self._texts

    def keys(self) -> set[str]:
        return set(self._texts)

    def with_prefix(self, prefix: str) -> dict[str, str]:
        return {k: v for k, v in self._texts.items() if k.startswith(prefix)}


@dataclass(frozen=True)
class Content:
    messages: Messages
    vocabulary: Vocabulary
    zones: Zones
    relief: Library
    tips: TipLibrary
    sources: dict[str, Source]

    def t(self, key: str, **values: Any) -> str:
        return self.messages(key, **values)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise ContentError(f"content file missing: {path}") from exc
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML ({exc})") from exc


def _flatten(prefix: str, node: Any, out: dict[str, str], path: Path) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str) or not re.match(_ID, key):
                raise ContentError(f"{path}: key {key!r} under {prefix!r} must be lower_snake_case")
            _flatten(f"{prefix}.{key}", value, out, path)
    elif isinstance(node, str) and node.strip():
        try:
            list(string.Formatter().parse(node))
        except ValueError as exc:
            raise ContentError(f"{path}: {prefix}: bad placeholder ({exc})") from exc
        out[prefix] = node.strip("\n")
    else:
        raise ContentError(f"{path}: {prefix} must be non-empty text")


def load_messages(directory: Path) -> Messages:
    """Every ``<section>.en.yaml`` in ``directory`` becomes keys ``<section>.*``."""
    texts: dict[str, str] = {}
    files = sorted(directory.glob("*.en.yaml"))
    if not files:
        raise ContentError(f"no message files in {directory}")
    for path in files:
        section = path.name.removesuffix(".en.yaml")
        _flatten(section, _read_yaml(path), texts, path)
    return Messages(texts)


def message_keys_used_by_code(package_dir: Path = PACKAGE_DIR) -> set[str]:
    """Keys the code asks for literally, e.g. ``t("common.error")``."""
    keys: set[str] = set()
    for source in package_dir.rglob("*.py"):
        keys.update(_KEY_USE.findall(source.read_text(encoding="utf-8")))
    return keys


def _model(model: type[BaseModel], path: Path) -> Any:
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        raise ContentError(f"{path}: {exc}") from exc


def load_content(root: Path = CONTENT_DIR) -> Content:
    """Load and check all content; raise ContentError naming the first problem."""
    messages = load_messages(root / "messages")
    missing = sorted(message_keys_used_by_code() - messages.keys())
    if missing:
        raise ContentError(f"message keys used by the code but missing from content: {missing}")
    vocabulary: Vocabulary = _model(Vocabulary, root / "vocabulary.en.yaml")
    try:
        sources = load_sources(root / "sources.yaml")
        relief = load_library(root / "relief", [c.id for c in vocabulary.regions], sources)
        tips = load_tip_library(root / "tips", sources)
    except (SourceError, RoutineError, TipLibraryError) as exc:
        raise ContentError(str(exc)) from exc
    return Content(
        messages=messages,
        vocabulary=vocabulary,
        zones=_model(Zones, root / "zones.yaml"),
        relief=relief,
        tips=tips,
        sources=sources,
    )
