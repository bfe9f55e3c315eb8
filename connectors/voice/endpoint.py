"""Is the caller's turn over? A judgement on the words, so the bot answers as soon as the answer is whole.

Silence alone is a slow signal: a caller pauses mid-sentence, so a VAD stop cannot end the turn by
itself, and an acoustic end-of-turn model (smart-turn) hears flat synthetic or telephone speech as
"not finished" much of the time, which leaves every answer waiting for the silence fallback. The words
settle most turns at once:

* a closed answer is whole when it has the form the step asked for — four digits for a PIN, a letter
  and four digits for an order number, a yes or a no, one of the spoken choices;
* an open request is whole when it does not end on a word that announces more ("and", "the", "because",
  "um") and it has a few words (a caller who pauses after "I need to change my delivery address" has
  said something to answer), or the intent classifier recognises even a shorter one with the
  confidence the bot acts on;
* an escape word ("agent", "operator", "cancel") is always a whole turn.

Anything else waits for smart-turn or the silence fallback, exactly as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from bot.kernel.messages import Button
from connectors.voice.lm import ESCAPE_WORDS, NO_WORDS, YES_WORDS, Expect, Expectation, words
from connectors.voice.speech import choose

#: A sentence ending on one of these is not finished ("I want to change the ...").
CONTINUATION_WORDS = frozenset({
    "a", "an", "the", "and", "or", "but", "so", "because", "to", "of", "for", "with", "from", "about", "in",
    "on", "at", "my", "your", "our", "is", "are", "was", "i", "i'm", "we", "it's", "that", "if", "then", "um",
    "uh", "er", "erm", "like", "which", "when", "can", "could", "would", "will", "want", "need", "please"})
#: Fewest words of a request that counts as whole without the classifier's say-so.
MIN_WHOLE_WORDS = 3
#: Fewest digits a phone number (an open-length digit answer) can have.
MIN_OPEN_DIGITS = 10

Confidence = Callable[[str], float]
"""The classifier's confidence in its top intent for a (normalized) sentence."""


@dataclass(slots=True)
class TurnJudge:
    """Decides from a final transcript whether the caller's turn is complete.

    ``confidence`` is the intent classifier (the same one the engine uses); ``threshold`` the confidence
    at which the engine acts on an intent. The bridge keeps :attr:`expectation` and :attr:`buttons` up to
    date with what the bot just asked.
    """

    confidence: Confidence | None
    threshold: float
    normalize: Callable[[str], str] = str
    expectation: Expectation = field(default_factory=Expectation)
    buttons: Sequence[Button] = ()

    def complete(self, transcript: str) -> bool:
        """True when ``transcript`` is a whole answer to what the bot asked (see the module docstring)."""
        tokens = words(transcript)
        if not tokens:
            return False
        if any(t in ESCAPE_WORDS for t in tokens):
            return True
        kind = self.expectation.kind
        if kind is Expect.YES_NO and any(t in YES_WORDS or t in NO_WORDS for t in tokens):
            return True
        if kind is Expect.DIGITS:
            digits = sum(ch.isdigit() for ch in self.normalize(transcript))
            return digits >= (self.expectation.digits or MIN_OPEN_DIGITS)
        if kind is Expect.CODE:
            needed = self.expectation.digits or 1
            return re.search(rf"\b[A-Za-z]\s*\d{{{needed},}}\b", self.normalize(transcript)) is not None
        if kind is Expect.CHOICE and choose(transcript, self.buttons) is not None:
            return True
        return self._whole_request(tokens, transcript)

    def _whole_request(self, tokens: list[str], transcript: str) -> bool:
        if tokens[-1] in CONTINUATION_WORDS:
            return False
        if len(tokens) >= MIN_WHOLE_WORDS:
            return True
        return self.confidence is not None and self.confidence(self.normalize(transcript)) >= self.threshold
