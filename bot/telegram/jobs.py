"""Naming per-user JobQueue jobs, so deleting a person (/forget) can find and remove them all."""

from __future__ import annotations

import re
from typing import Any

from telegram.ext import Application


def user_job_name(kind: str, user_id: int) -> str:
    """The name of a per-user job, e.g. ``rl.hold.u123``. Every per-user job uses this."""
    return f"{kind}.u{user_id}"


def job_belongs_to(name: str | None, user_id: int) -> bool:
    """Whether a job name made by user_job_name is this user's ("u1234" is not user 12's)."""
    return bool(name) and re.search(rf"(?<![A-Za-z0-9])u{user_id}(?![0-9])", name) is not None


def remove_user_jobs(app: Application[Any, Any, Any, Any, Any, Any], user_id: int) -> int:
    """Unschedule every job of this user; returns how many."""
    if app.job_queue is None:
        return 0
    removed = 0
    for job in app.job_queue.jobs():
        if job_belongs_to(job.name, user_id):
            job.schedule_removal()
            removed += 1
    return removed
