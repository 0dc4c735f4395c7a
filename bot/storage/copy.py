"""`twitch-coach copy-store`: every person from one store to another, verified, resumable.

Each person is copied as one unit (one transaction, or one atomic file write) with the ids of
their documents kept, then read back from the destination and compared with the source: the
number of documents per table and a SHA-256 of the whole export (key order included, so the
/export a person gets afterwards is byte-identical). A person already identical in the
destination is skipped, so a copy that was interrupted is simply run again; it ends where it
stopped. Nothing is deleted from the source. Stop the bot first: a person changed during the
copy would be copied as they were when their turn came.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bot.storage.base import Export, Store
from bot.storage.errors import StorageError


class CopyError(StorageError):
    """A person's copy does not match the source (the message holds counts, never data)."""


@dataclass
class CopyReport:
    people: int = 0  # in the source
    copied: int = 0
    already_there: int = 0  # identical in the destination before this run
    documents: int = 0  # in the source, profile and flow state included
    only_in_destination: int = 0  # people the destination has and the source doesn't: left alone
    seconds: float = 0.0


def fingerprint(tables: Export) -> tuple[dict[str, int], str]:
    """(documents per table, SHA-256 of the export as compact JSON in its own key order)."""
    counts = {name: len(docs) for name, docs in tables.items()}
    text = json.dumps(tables, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return counts, hashlib.sha256(text.encode("utf-8")).hexdigest()


def copy_person(source: Store, dest: Store, uid: int) -> tuple[bool, int]:
    """Copy one person unless already identical. Returns (copied, documents)."""
    tables = source.export_user_sync(uid)
    want = fingerprint(tables)
    if fingerprint(dest.export_user_sync(uid)) == want:
        return False, sum(want[0].values())
    dest.import_user_sync(uid, tables)
    got = fingerprint(dest.export_user_sync(uid))
    if got != want:
        raise CopyError(
            f"person {uid}: the copy does not match the source "
            f"(documents per table {got[0]} vs {want[0]}, checksums differ: {got[1] != want[1]})"
        )
    return True, sum(want[0].values())


def copy_store(
    source: Store,
    dest: Store,
    *,
    workers: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> CopyReport:
    """Copy everyone from `source` to `dest` (both open). `progress(done, total)` is called
    every 1,000 people. Raises CopyError at the first person whose copy doesn't match."""
    started = time.monotonic()
    uids = source.user_ids()
    report = CopyReport(people=len(uids))
    # People are independent: a few at a time keeps both engines busy (group commit, fsyncs).
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="copy-store") as pool:
        for done, (copied, documents) in enumerate(
            pool.map(lambda uid: copy_person(source, dest, uid), uids), start=1
        ):
            report.copied += copied
            report.already_there += not copied
            report.documents += documents
            if progress and done % 1000 == 0:
                progress(done, len(uids))
    report.only_in_destination = len(set(dest.user_ids()) - set(uids))
    report.seconds = time.monotonic() - started
    return report
