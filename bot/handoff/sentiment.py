"""The customer's sentiment over a conversation, for the agent's context package.

A small lexicon scorer (no model, microseconds per message) gives each customer message a score in
[-1, 1]; emotional guardrail signals recorded in the conversation, when present, pull the score of
their message down. The trend compares the latest messages with the earlier ones.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.guardrails.taxonomy import EMOTIONAL
from bot.kernel.events import Event, GuardrailTriggered, UserUttered


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


NEGATIVE_WORDS = _words("""
    angry annoyed annoying awful bad broken cancel complaint crap damaged dead disappointed disappointing disgusted
    disgrace fed frustrated frustrating furious hate horrible idiot idiots incompetent joke late lied liar lost
    mad mess missing never nonsense pathetic poor refund ridiculous rubbish rude sad scam shit stupid terrible
    unacceptable unhappy upset useless waiting waste wasted worse worst wrong wtf fuck fucking bloody damn
""")
POSITIVE_WORDS = _words("""
    amazing appreciate awesome brilliant excellent fantastic fine glad good great happy helpful love lovely nice
    perfect pleased resolved sorted super thank thanks wonderful
""")
NEGATORS = frozenset({"not", "no", "never", "don't", "dont", "isn't", "isnt", "wasn't", "wasnt", "didn't", "didnt"})
INTENSIFIERS = frozenset({"very", "so", "really", "extremely", "totally", "absolutely", "completely"})

_WORD = re.compile(r"[a-z']+")


def score_text(text: str) -> float:
    """Sentiment of one message in [-1, 1] (negative is unhappy); 0 when no cue is found."""
    words = _WORD.findall(text.lower())
    total = 0.0
    for index, word in enumerate(words):
        value = -1.0 if word in NEGATIVE_WORDS else 1.0 if word in POSITIVE_WORDS else 0.0
        if not value:
            continue
        previous = words[max(0, index - 2):index]
        if any(w in NEGATORS for w in previous):
            value = -value * 0.6
        if any(w in INTENSIFIERS for w in previous):
            value *= 1.5
        total += value
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) > 0.7:
        total -= 1.0  # shouting
    total -= 0.3 * min(text.count("!"), 3) if total < 0 else 0.0
    return max(-1.0, min(1.0, total / 2.5))


@dataclass(frozen=True, slots=True)
class SentimentTrend:
    """Per-message scores and the direction they move in."""

    scores: tuple[tuple[float, float], ...]
    """(timestamp, score) of each customer message, oldest first."""
    trend: str
    """``worsening``, ``improving``, ``stable`` or ``unknown`` (fewer than two messages)."""

    @property
    def latest(self) -> float | None:
        return self.scores[-1][1] if self.scores else None

    def to_dict(self) -> dict[str, object]:
        return {
            "trend": self.trend,
            "latest": None if self.latest is None else round(self.latest, 3),
            "scores": [{"at": at, "score": round(score, 3)} for at, score in self.scores],
        }


def sentiment_trend(events: Sequence[Event], *, window: int = 3, margin: float = 0.2) -> SentimentTrend:
    """Score every customer message of ``events`` and compare the last ``window`` with those before."""
    scores: list[tuple[float, float]] = []
    for event in events:
        if isinstance(event, UserUttered):
            scores.append((event.timestamp, score_text(event.text)))
        elif isinstance(event, GuardrailTriggered) and scores:
            worst = max((float(s.get("score", 0)) for s in event.signals
                         if s.get("category") in EMOTIONAL), default=0.0)
            if worst:
                at, score = scores[-1]
                scores[-1] = (at, min(score, -worst))
    if len(scores) < 2:
        return SentimentTrend(tuple(scores), "unknown")
    recent = [s for _, s in scores[-window:]]
    earlier = [s for _, s in scores[:-window]] or [scores[0][1]]
    delta = sum(recent) / len(recent) - sum(earlier) / len(earlier)
    trend = "worsening" if delta < -margin else "improving" if delta > margin else "stable"
    return SentimentTrend(tuple(scores), trend)
