"""Is what answered the call a voicemail greeting? Our own check, after Twilio's answering-machine detection.

A rule, not a model: a person picking up says a word or two ("Hello?"); a recorded greeting talks at
length and says so ("you have reached", "leave a message after the tone"). Known misses: a very short
custom greeting without any of the phrases, and a person who answers with a long sentence.
"""

from __future__ import annotations

import re

#: Phrases of recorded greetings (lower case, matched as words in the transcript).
GREETING_PHRASES = ("leave a message", "leave your message", "after the tone", "after the beep", "not available",
                    "unavailable", "can't take your call", "cannot take your call", "can't come to the phone",
                    "voicemail", "voice mail", "you have reached", "you've reached", "record your message",
                    "mailbox", "at the tone")
#: A first turn this long (seconds of speech) before the bot said anything is a recording.
LONG_GREETING_SECS = 4.0
#: ... or this many words.
LONG_GREETING_WORDS = 10


def detect_voicemail_greeting(transcript: str, *, speech_secs: float | None = None) -> bool:
    """Whether the callee's first words sound like a recorded greeting rather than a person."""
    text = " ".join(re.findall(r"[a-z']+", transcript.lower()))
    if any(phrase in text for phrase in GREETING_PHRASES):
        return True
    if speech_secs is not None and speech_secs >= LONG_GREETING_SECS:
        return True
    return len(text.split()) >= LONG_GREETING_WORDS


def machine_answered(answered_by: str | None) -> bool:
    """Twilio's ``AnsweredBy`` (``machine_start``, ``machine_end_beep``, ``fax``...) names a machine."""
    return bool(answered_by) and (answered_by.startswith("machine") or answered_by == "fax")  # type: ignore[union-attr]
