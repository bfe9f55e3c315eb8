"""When the conversation outgrows the bot: not understood for several turns, repeated fallbacks,
several requests in one message, very long messages, the same question again.

Understanding of the current message comes after the guards, so the confidence signals read the
previous turns' parses (stored on their user events). An answer to the bot's own question (a flow's
``collect`` step: the bot asked with ``utter_ask_<slot>`` or any other question, or a slot was set from the
answer) is not an intent to understand: "Thursday" or "10042" has a low intent confidence because it is a slot
value, so such turns are no evidence either way in the not-understood streak.

A rule detector: counts of turns and clauses against the thresholds of ``complexity`` in ``guardrails.yml``.
"""

from __future__ import annotations

import re

from bot.guardrails.base import Detector, Signal
from bot.infra.embeddings import ServingEncoder
from bot.kernel.conversation import ConversationState
from bot.kernel.events import BotUttered, Event, SlotSet, UserUttered
from bot.project.schema import ComplexityConfig

#: Responses that mean "the bot did not manage".
FALLBACK_RESPONSES = frozenset({"utter_default", "utter_dont_know", "utter_ask_rephrase", "utter_fallback"})

_SPLIT = re.compile(r"(?<=[?!.])\s+|\s*;\s*|\b(?:and also|also,|another thing|plus|as well as that|"
                    r"on top of that|secondly|thirdly|and then|and i also|and can you|and could you)\b",
                    re.IGNORECASE)
_REQUEST = re.compile(r"\?|\b(?:i want|i need|i'd like|i would like|can you|could you|please|how do i|how can i|"
                      r"where is|when will|why|what|change|cancel|refund|update|book|return)\b", re.IGNORECASE)


def count_requests(text: str) -> int:
    """How many parts of ``text`` ask for something (clauses with a question or a request verb)."""
    parts = [p for p in _SPLIT.split(text) if p and len(p.strip()) > 3]
    return sum(1 for p in parts if _REQUEST.search(p))


class detect_complexity(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Signals ``low_confidence``, ``repeated_fallback``, ``multiple_requests``, ``long_message``,
    ``repeated_question`` (each scored 0..1)."""

    name = "complexity"
    kind = "rule"

    def __init__(self, config: ComplexityConfig, vectors: ServingEncoder | None = None) -> None:
        self.config = config
        self.vectors = vectors

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        signals: list[Signal] = []
        earlier = [e for e in state.events
                   if isinstance(e, UserUttered) and not e.for_agent and e is not state.latest_user]
        answers = slot_answers(state.events)
        signals += self._low_confidence([e for e in earlier if id(e) not in answers])
        signals += self._fallbacks(state)
        requests = count_requests(text)
        if requests >= 2:
            score = min(1.0, 0.3 + 0.3 * requests / self.config.max_requests)
            signals.append(Signal(self.name, "multiple_requests", score, f"{requests} requests"))
        if len(text) > self.config.max_chars:
            score = min(1.0, 0.5 + 0.5 * (len(text) - self.config.max_chars) / self.config.max_chars)
            signals.append(Signal(self.name, "long_message", score, f"{len(text)} characters"))
        signals += await self._repeated(text, earlier)
        return signals

    def _low_confidence(self, earlier: list[UserUttered]) -> list[Signal]:
        streak = 0
        for event in reversed(earlier):
            if event.intent is None:
                continue  # not understood at all (a guard or the scope answered first): no evidence either way
            if event.text.startswith("/") or event.confidence >= self.config.low_confidence:
                break
            streak += 1
        if streak < self.config.low_confidence_turns:
            return []
        score = min(1.0, 0.5 + 0.25 * (streak - self.config.low_confidence_turns))
        return [Signal(self.name, "low_confidence", score, f"{streak} turns below {self.config.low_confidence}")]

    def _fallbacks(self, state: ConversationState) -> list[Signal]:
        window = 2 * self.config.fallback_turns + 2
        recent = [e for e in state.events if isinstance(e, BotUttered)][-window:]
        count = sum(1 for e in recent if e.response in FALLBACK_RESPONSES)
        if count < self.config.fallback_turns:
            return []
        score = min(1.0, 0.5 + 0.3 * (count - self.config.fallback_turns))
        return [Signal(self.name, "repeated_fallback", score, f"{count} fallback answers")]

    async def _repeated(self, text: str, earlier: list[UserUttered]) -> list[Signal]:
        """The same request again: each earlier message of the last six that matches (same words, or cosine at
        least ``repeat_similarity``) adds 0.2 to a 0.6 base. Only requests count, not greetings or chit-chat."""
        previous = [e.text for e in earlier[-6:] if not e.text.startswith("/") and len(e.text) > 12]
        if not previous or len(text) <= 12 or not _REQUEST.search(text):
            return []
        normalized = _normal(text)
        same = [old for old in previous if _normal(old) == normalized]
        if self.vectors is not None:
            vectors = await self.vectors.aencode([text, *previous])
            similarities = vectors[1:] @ vectors[0]
            same += [old for old, sim in zip(previous, similarities, strict=True)
                     if sim >= self.config.repeat_similarity and old not in same]
        if not same:
            return []
        return [Signal(self.name, "repeated_question", min(1.0, 0.4 + 0.2 * len(same)), same[-1])]


def slot_answers(events: list[Event]) -> set[int]:
    """``id()`` of the customer messages that answered the bot's own question: the bot's last message before it
    asked for a slot (``utter_ask_*``) or was a question (not a fallback), or a slot was set before the next
    customer message."""
    answers: set[int] = set()
    asked = False
    pending: UserUttered | None = None
    for event in events:
        if isinstance(event, UserUttered):
            if event.for_agent:
                continue
            pending = event
            if asked:
                answers.add(id(event))
            asked = False
        elif isinstance(event, BotUttered):
            response = event.response or ""
            asked = response.startswith("utter_ask_") or (
                response not in FALLBACK_RESPONSES and event.text.rstrip().endswith("?"))
        elif isinstance(event, SlotSet) and pending is not None:
            answers.add(id(pending))
    return answers


def _normal(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())
