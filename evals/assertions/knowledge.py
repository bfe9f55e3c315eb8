"""Assertions on knowledge answers (citations, groundedness) and on account data before verification."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, ClassVar

from evals.assertions.base import Assertion, AssertionSyntaxError, CheckContext, Outcome, name_of, require_true
from evals.observation import TurnObservation


def _cited(turn: TurnObservation) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for message in turn.bot:
        docs.extend(message.citations)
    for consulted in turn.knowledge:
        if consulted.answered:
            docs.extend(d for d in consulted.documents if d not in docs)
    return docs


@dataclass(frozen=True, slots=True)
class AnswerCites(Assertion):
    """The knowledge answer cites the document (matched on ``doc_id``, ``title`` or ``url``)."""

    kind: ClassVar[str] = "answer_cites"
    documents: tuple[str, ...]

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        items = value if isinstance(value, list) else [value]
        return cls(tuple(name_of(v, "doc_id", cls.kind) for v in items))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        cited = _cited(turn)
        names = [str(d.get("doc_id") or d.get("title")) for d in cited]

        def found(wanted: str) -> bool:
            w = wanted.casefold()
            return any(w in {str(d.get(k) or "").casefold() for k in ("doc_id", "title", "url")}
                       or str(d.get("doc_id") or "").casefold().endswith("/" + w) for d in cited)

        missing = [d for d in self.documents if not found(d)]
        return self.outcome(not missing, f"answer cites {', '.join(self.documents)}",
                            f"cited: {names or 'nothing'}")


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP = frozenset({"the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "is", "are", "be", "it",
                   "this", "that", "with", "you", "your", "we", "our", "can", "at", "by", "as", "from", "if",
                   "not", "no", "do", "does", "will", "may", "any", "all", "have", "has", "was", "were", "i"})


def support(answer: str, sources: list[str]) -> float:
    """Share of the answer's content words found in the sources (1.0 when it has none)."""
    words = [w for w in _WORD.findall(answer.casefold()) if w not in _STOP]
    if not words:
        return 1.0
    vocabulary = set(_WORD.findall(" ".join(sources).casefold()))
    return sum(w in vocabulary for w in words) / len(words)


GROUNDED_SUPPORT = 0.8
"""Minimum word support of an answer by its cited documents when their text is available."""


def grounded(turn: TurnObservation, context: CheckContext) -> tuple[bool, str]:
    """Did this turn give a knowledge answer backed by cited documents? (verdict, explanation)"""
    answered = [k for k in turn.knowledge if k.answered]
    if not answered:
        said = "did not answer from knowledge" if turn.knowledge else "did not consult knowledge"
        return False, said
    cited = _cited(turn)
    if not cited:
        return False, "answered without citing a document"
    if context.document_text is None:
        return True, f"answered citing {len(cited)} document(s)"
    texts = [t for t in (context.document_text(str(d.get("doc_id"))) for d in cited) if t]
    if not texts:
        return True, f"answered citing {len(cited)} document(s) (text not available)"
    answer = " ".join(m.text for m in turn.bot if m.citations) or " ".join(m.text for m in turn.bot)
    score = support(_strip_sources(answer), texts)
    return score >= GROUNDED_SUPPORT, f"{score:.0%} of the answer's words are in the cited documents"


def _strip_sources(text: str) -> str:
    """Drop citation markers and a trailing "Source: ..." line, which are not claims."""
    text = re.sub(r"\[\d+\]", "", text)
    return re.split(r"\n\s*(?:sources?|see)\s*:", text, flags=re.IGNORECASE)[0]


@dataclass(frozen=True, slots=True)
class AnswerIsGrounded(Assertion):
    """This turn answered from the knowledge base, citing documents whose text supports the answer."""

    kind: ClassVar[str] = "answer_is_grounded"

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        require_true(value, cls.kind)
        return cls()

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        passed, why = grounded(turn, context)
        return self.outcome(passed, "a grounded knowledge answer with citations", why)


@dataclass(frozen=True, slots=True)
class NoAccountDataDisclosed(Assertion):
    """Until the customer is verified, no bot message (so far) contains account data.

    Account data are the suite's ``account_data`` strings plus any ``values`` given here.
    """

    kind: ClassVar[str] = "no_account_data_disclosed"
    values: tuple[str, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        if value is True:
            return cls()
        if isinstance(value, dict) and isinstance(value.get("values"), list):
            return cls(tuple(str(v) for v in value["values"]))
        raise AssertionSyntaxError("no_account_data_disclosed expects true or {values: [...]}")

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        secrets = [s for s in (*context.account_data, *self.values) if s]
        if turn.state.slots.get("authenticated"):
            return self.outcome(True, "no account data before verification", "the customer is verified")
        leaked = sorted({s for m in turn.bot for s in secrets if s.casefold() in m.text.casefold()})
        return self.outcome(not leaked, "no account data before verification",
                            f"disclosed: {leaked}" if leaked else f"none of {len(secrets)} values disclosed")
