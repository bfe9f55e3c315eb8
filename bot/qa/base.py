"""What a check is: a small typed function over a :class:`~bot.qa.transcript.Conversation` giving a
:class:`Verdict` with the evidence turns.

A check never writes anything and never reaches into the engine; it reads the events (and, when the scorer
has one, a text similarity from the serving encoder). Its ``kind`` says what it is, like the guardrails'
detectors: ``rule`` (patterns over events), ``model`` (lexicon or embeddings) or ``llm`` (a judge, only when
``llm:`` is configured; see :mod:`bot.qa.judge`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.qa.transcript import Conversation

Similarity = Callable[[str, str], float]
"""Similarity of two customer messages in [0, 1] (1: the same question)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One criterion's outcome for one conversation.

    ``passed`` is ``None`` when the criterion does not apply (no agent joined, no account data shown...);
    ``evidence`` are the ``seq`` numbers of the turns that decided it (for a failure: the failing turns).
    """

    passed: bool | None
    evidence: tuple[int, ...] = ()
    note: str = ""


NOT_APPLICABLE = Verdict(None)


def failed(note: str, *evidence: int) -> Verdict:
    """A failing verdict naming its turns."""
    return Verdict(False, tuple(evidence), note)


def passed(note: str = "", *evidence: int) -> Verdict:
    """A passing verdict."""
    return Verdict(True, tuple(evidence), note)


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What a check may use besides the events."""

    similarity: Similarity | None = None
    """Embedding similarity of two texts (the runtime's serving encoder); ``None``: lexical overlap only."""
    later_contacts: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """Customer id → when each of their conversations started (for repeat contacts across conversations)."""


Check = Callable[[Conversation, Mapping[str, Any], CheckContext], Verdict]


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A registered check: its function, kind and parameters with their defaults."""

    name: str
    function: Check
    kind: Literal["rule", "model", "llm"]
    params: Mapping[str, Any]
    summary: str

    def run(self, conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
        """The verdict with ``params`` laid over the defaults."""
        return self.function(conversation, {**self.params, **params}, context)


REGISTRY: dict[str, CheckSpec] = {}


def check(name: str, kind: Literal["rule", "model", "llm"] = "rule",
          **defaults: Any) -> Callable[[Check], Check]:
    """Register the decorated function as check ``name`` with parameter ``defaults``."""
    def register(function: Check) -> Check:
        summary = (function.__doc__ or "").strip().splitlines()[0] if function.__doc__ else name
        REGISTRY[name] = CheckSpec(name, function, kind, dict(defaults), summary)
        return function
    return register
