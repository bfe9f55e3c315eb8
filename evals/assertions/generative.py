"""Rasa's judged assertions, without an LLM judge: ``generative_response_is_grounded``,
``generative_response_is_relevant`` and ``pattern_clarification_contains``.

Rasa asks an LLM judge; Careline judges what it can from the turn itself and skips (with the reason, never a
failure) what it cannot:

- **grounded**: the judged message is split into statements (sentences); a statement is supported when 80 % of its
  content words occur in the ground truth, or when the embedding model puts it at cosine >= 0.75 to one of the
  ground truth's sentences. The score is supported / all statements (Rasa's formula) against ``threshold``. The
  ground truth is the assertion's ``ground_truth``, else the text of the documents the knowledge answer cited,
  else (a domain response named by ``utter_name``, sent as written) the response's own template.
- **relevant**: the embedding model's cosine between the customer's message and the judged message, against
  :data:`RELEVANT_COSINE` (Rasa's ``threshold`` is on its judge's scale, not on this one; it is reported). Skipped
  when the run has no embedding model (``--url``).
- **pattern_clarification_contains**: the turn offered buttons (Careline's clarification: "did you mean …") whose
  payloads start exactly the flows listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.kernel.events import BotUttered
from evals.assertions.base import Assertion, AssertionSyntaxError, CheckContext, Outcome
from evals.assertions.knowledge import _strip_sources, support
from evals.observation import TurnObservation

STATEMENT_WORD_SUPPORT = 0.8
"""A statement is supported when this share of its content words is in the ground truth."""
STATEMENT_COSINE = 0.75
"""... or when the embedding model puts it this close to one ground-truth sentence."""
RELEVANT_COSINE = 0.35
"""Message-to-answer cosine from which an answer counts as relevant to the message (all-MiniLM-L6-v2 scale)."""
KNOWLEDGE_SOURCES = frozenset({"EnterpriseSearchPolicy", "knowledge", "knowledge_answer", "action_trigger_search"})
"""``utter_source`` values that mean the knowledge base's answer."""

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")


def statements(text: str) -> list[str]:
    """The sentences of ``text`` that say something (citation markers and a "Sources:" tail removed)."""
    return [s.strip() for s in _SENTENCE.split(_strip_sources(text)) if re.search(r"[A-Za-z0-9]", s)]


@dataclass(frozen=True, slots=True)
class _Generative(Assertion):
    kind: ClassVar[str] = ""
    threshold: float = 0.5
    utter_name: str | None = None
    utter_source: str | None = None
    ground_truth: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        if not isinstance(value, dict):
            raise AssertionSyntaxError(f"{cls.kind} expects a mapping with threshold (and utter_name, "
                                       "utter_source, ground_truth)")
        unknown = set(value) - {"threshold", "utter_name", "utter_source", "ground_truth"}
        if unknown:
            raise AssertionSyntaxError(f"{cls.kind}: unknown key(s) {sorted(unknown)}")
        threshold = value.get("threshold", 0.5)
        if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
            raise AssertionSyntaxError(f"{cls.kind}.threshold is a number from 0 to 1, got {threshold!r}")
        truth = value.get("ground_truth")
        return cls(float(threshold), _opt(value, "utter_name", cls.kind), _opt(value, "utter_source", cls.kind),
                   None if truth is None else str(truth))

    def judged(self, turn: TurnObservation) -> list[BotUttered]:
        """The bot messages this assertion is about."""
        messages = turn.bot
        if self.utter_name is not None:
            return [m for m in messages if m.response == self.utter_name]
        if self.utter_source is not None and self.utter_source in KNOWLEDGE_SOURCES:
            return [m for m in messages if m.citations or m.response == "knowledge_answer"]
        knowledge = [m for m in messages if m.citations or m.response == "knowledge_answer"]
        return knowledge or messages

    def describe(self) -> str:
        about = self.utter_name or self.utter_source or "the generative response"
        return f"{about} {self.kind.removeprefix('generative_response_').replace('_', ' ')}"


def _opt(value: dict[str, Any], key: str, kind: str) -> str | None:
    got = value.get(key)
    if got is not None and (not isinstance(got, str) or not got):
        raise AssertionSyntaxError(f"{kind}.{key} is a name")
    return got


@dataclass(frozen=True, slots=True)
class GenerativeResponseIsGrounded(_Generative):
    """The judged message's statements are supported by the ground truth (share >= ``threshold``)."""

    kind: ClassVar[str] = "generative_response_is_grounded"

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        expected = f"{self.describe()} (score >= {self.threshold:.2f})"
        messages = self.judged(turn)
        if not messages:
            return self.outcome(False, expected, "no such bot message in this turn")
        truth = self._truth(turn, messages, context)
        if not truth:
            return self.skip(expected, "no ground_truth given and no cited document text or response template "
                                       "to judge against")
        claims = [s for m in messages for s in statements(m.text)]
        if not claims:
            return self.outcome(False, expected, "the message states nothing")
        sources = statements(truth) or [truth]
        cosines: list[list[float]] = ([context.similarity(c, sources) for c in claims]
                                      if context.similarity is not None else [[] for _ in claims])
        supported = [support(c, [truth]) >= STATEMENT_WORD_SUPPORT or max(cos, default=0.0) >= STATEMENT_COSINE
                     for c, cos in zip(claims, cosines, strict=True)]
        score = sum(supported) / len(claims)
        unsupported = [c for c, ok in zip(claims, supported, strict=True) if not ok]
        actual = f"score {score:.2f} ({sum(supported)} of {len(claims)} statements supported)"
        if unsupported:
            actual += "; unsupported: " + " | ".join(repr(c) for c in unsupported[:3])
        return self.outcome(score >= self.threshold, expected, actual)

    def _truth(self, turn: TurnObservation, messages: list[BotUttered], context: CheckContext) -> str:
        if self.ground_truth:
            return self.ground_truth
        texts: list[str] = []
        if context.document_text is not None:
            for message in messages:
                for doc in message.citations:
                    text = context.document_text(str(doc.get("doc_id")))
                    if text and text not in texts:
                        texts.append(text)
        if texts:
            return "\n".join(texts)
        if context.response_text is not None:
            templates = [context.response_text(m.response) for m in messages if m.response]
            return "\n".join(t for t in templates if t)
        return ""


@dataclass(frozen=True, slots=True)
class GenerativeResponseIsRelevant(_Generative):
    """The judged message is about what the customer said (embedding cosine >= :data:`RELEVANT_COSINE`)."""

    kind: ClassVar[str] = "generative_response_is_relevant"

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        expected = f"{self.describe()} (cosine >= {RELEVANT_COSINE}; Rasa threshold {self.threshold:.2f} " \
                   "is on its LLM judge's scale)"
        messages = self.judged(turn)
        if not messages:
            return self.outcome(False, expected, "no such bot message in this turn")
        if context.similarity is None:
            return self.skip(expected, "relevance needs the project's embedding model (an in-process run) or an "
                                       "LLM judge; neither is available")
        user = turn.user.text if turn.user is not None else turn.user_text
        score = max(context.similarity(user, [m.text for m in messages]), default=0.0)
        return self.outcome(score >= RELEVANT_COSINE, expected, f"cosine {score:.2f} to {user!r}")


@dataclass(frozen=True, slots=True)
class PatternClarificationContains(Assertion):
    """The bot asked which of exactly these flows the customer meant (buttons starting them)."""

    kind: ClassVar[str] = "pattern_clarification_contains"
    flows: tuple[str, ...]

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(i, str) and i for i in items):
            raise AssertionSyntaxError(f"{cls.kind} expects a list of flow ids")
        return cls(tuple(items))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        expected = f"clarification between {', '.join(self.flows)}"
        offered: list[str] = []
        for message in turn.bot:
            for button in message.buttons:
                payload = str(button.get("payload", ""))
                found = context.flows_of_payload(payload) if context.flows_of_payload is not None else ()
                if not found and payload.startswith("/"):
                    found = (re.split(r"[{(]", payload[1:], maxsplit=1)[0],)
                offered.extend(f for f in found if f not in offered)
        if not offered:
            return self.outcome(False, expected, "no flows offered to choose from")
        return self.outcome(set(offered) == set(self.flows), expected, f"flows offered: {', '.join(offered)}")
