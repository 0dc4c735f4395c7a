"""What a simulated user does in the end-to-end benchmark and the fault trials.

A session is a list of steps; each step is one update the user sends (a text or a button press)
and how many bot messages (sends or edits) it brings. Switching the workload to another flow is a
matter of editing the step lists below, nothing else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.sandbox import FakeUser


@dataclass(frozen=True)
class Step:
    kind: str  # "send": text message | "press": inline button by label
    value: str
    messages: int  # bot sends/edits this update produces (read before the next step)


ONBOARDING = (
    Step("send", "/start", 2),  # welcome, the note
    Step("press", "I understand", 2),  # note edited, time zone question
    Step("press", "Berlin", 2),  # confirmation (edit), tip time question
    Step("press", "08:00", 2),  # confirmation (edit), main menu
)
# One round after onboarding; each round writes to the user's file once.
# TODO(check-ins): once issue 3 lands, make this a full check-in (menu tap, intensity, region,
# "save") so every round stores an episode.
ROUND = (
    Step("send", "/settings", 1),
    Step("press", "Change time zone", 1),
    Step("press", "Berlin", 1),  # saved; confirmation (edit)
)


def coach_session(rounds: int) -> list[Step]:
    return [*ONBOARDING, *(step for _ in range(rounds) for step in ROUND)]


def echo_session(rounds: int) -> list[Step]:
    """The same number of updates for an echo bot: one text each, one reply each."""
    return [Step("send", f"hello {n}", 1) for n in range(len(coach_session(rounds)))]


async def run_session(user: FakeUser, steps: list[Step], timeout: float = 30.0) -> list[float]:
    """Play `steps`; return, per update, seconds from the update being available to the bot
    until its first reply (a message, an edit or the button's answer)."""
    latencies = []
    for step in steps:
        started = time.perf_counter()
        if step.kind == "send":
            await user.send(step.value)
            await user.next_message(timeout)
            latencies.append(time.perf_counter() - started)
            remaining = step.messages - 1
        else:
            await user.press(step.value, timeout=timeout)
            latencies.append(time.perf_counter() - started)
            remaining = step.messages
        for _ in range(remaining):
            await user.next_message(timeout)
    return latencies
