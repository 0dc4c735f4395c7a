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
    Step("press", "08:00", 2),  # confirmation (edit), offer of the evening check (diary)
    Step("press", "No thanks", 3),  # confirmation (edit), main menu, offer of a safety check
)
# One round after onboarding: a full check-in, the way tests/e2e/test_checkin.py does it
# (menu button, intensity, two regions, done, duration, trigger, save): 8 updates, 1 episode.
CHECKIN_MENU = "📝 Log an episode"
ROUND = (
    Step("send", CHECKIN_MENU, 1),  # the check-in message (intensity question)
    Step("press", "6", 1),  # each press: answered, then the same message edited
    Step("press", "Back", 1),
    Step("press", "Calves or feet", 1),
    Step("press", "Done ✓", 1),
    Step("press", "Minutes", 1),
    Step("press", "Stress", 1),
    Step("press", "💾 Save", 1),  # stored; the message becomes "✓ Saved: ..."
)


def coach_session(rounds: int) -> list[Step]:
    return [*ONBOARDING, *(step for _ in range(rounds) for step in ROUND)]


def echo_session(rounds: int) -> list[Step]:
    """The same number of updates for an echo bot: one text each, one reply each."""
    return [Step("send", f"hello {n}", 1) for n in range(len(coach_session(rounds)))]


def button_echo_session(rounds: int) -> list[Step]:
    """The same number of updates for a bare button bot: one text, then taps (answer + edit)."""
    count = len(coach_session(rounds))
    return [Step("send", "/start", 1), *(Step("press", "tap", 1) for _ in range(count - 1))]


async def run_session(user: FakeUser, steps: list[Step], timeout: float = 30.0) -> list[float]:
    """Play `steps`; return, per update, seconds from the update being available to the bot
    until the person sees the result: the first message or edit it brings (for a button, also
    after the tap was answered). Every bot is timed that way, so a bot that answers the tap
    first and edits later is not credited with the early answer."""
    latencies = []
    for step in steps:
        started = time.perf_counter()
        if step.kind == "send":
            await user.send(step.value)
        else:
            await user.press(step.value, timeout=timeout)
        await user.next_message(timeout)
        latencies.append(time.perf_counter() - started)
        for _ in range(step.messages - 1):
            await user.next_message(timeout)
    return latencies
