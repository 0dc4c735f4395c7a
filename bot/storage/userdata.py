"""`UserData`: one person's data inside a unit of work, whatever engine stores it.

`Store.transact(uid, fn)` calls `fn(data)` with a `UserData` under that person's lock; every
read sees the writes made before it, and the writes are applied all together or, if `fn`
raises, not at all. Features speak only this vocabulary, never an engine's own objects.

Tables hold JSON documents (plain dicts) with an integer "id" per table and person; the
profile and the flow state are single documents reached through their own methods.
"""

from __future__ import annotations

from typing import Any, Protocol


class UserData(Protocol):
    # ---- profile (one document; None until onboarding creates it)
    def profile(self) -> dict[str, Any] | None: ...

    def save_profile(self, profile: dict[str, Any]) -> None:
        """Replace the whole profile."""

    def update_profile(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` and return the new profile; KeyError if there is none."""

    # ---- flow state (key/value: drafts, "awaiting" markers...)
    def state(self, key: str) -> Any | None: ...

    def set_state(self, values: dict[str, Any]) -> None:
        """Set several keys at once."""

    def clear_state(self, *keys: str) -> None:
        """Forget these keys (missing ones are ignored; nothing is written if none is there)."""

    # ---- tables of documents; documents come back as dicts with their "id"
    def insert(self, table: str, doc: dict[str, Any]) -> int:
        """Add a document (an "id" key in it is ignored); returns its id."""

    def all(self, table: str) -> list[dict[str, Any]]:
        """Every document, oldest (lowest id) first."""

    def get(self, table: str, doc_id: int) -> dict[str, Any] | None: ...

    def update(self, table: str, doc_id: int, changes: dict[str, Any]) -> bool:
        """Merge `changes` into one document; False if it doesn't exist."""

    def remove(self, table: str, doc_id: int) -> bool:
        """Delete one document; False if it doesn't exist."""

    def count(self, table: str) -> int: ...

    def tables(self) -> list[str]:
        """Names of the non-empty feature tables (not profile or state), sorted."""
