"""The crisis-word guard on every free-text message, and access to the safety wording.

Kept apart from bot/telegram/insights/ so common.on_text can import it without a cycle.
"""

from __future__ import annotations

import functools

from telegram import Update

from bot.domain.safety import SafetyContent, load_safety, mentions_crisis
from bot.telegram.context import CoachContext


@functools.cache
def safety_content() -> SafetyContent:
    """content/safety.en.yaml, loaded and validated once per process (first use: at start)."""
    return load_safety()


async def crisis_guard(update: Update, ctx: CoachContext, text: str) -> bool:
    """If the text mentions wanting to die or self-harm, reply with care and crisis resources.

    Returns whether it replied. It never blocks what the person was doing: the caller still
    saves the note or answer they were typing.
    """
    words = safety_content()
    if update.effective_message is None or not mentions_crisis(text, words.crisis.phrases):
        return False
    # Log that it happened, never what was written.
    await update.effective_message.reply_text(words.crisis_reply())
    return True
