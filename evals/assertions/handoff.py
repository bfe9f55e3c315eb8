"""Assertions on handoffs and guardrails: escalated (reason, team), not escalated, the context package."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from evals.assertions.base import Assertion, AssertionSyntaxError, CheckContext, Outcome, require_true
from evals.matching import contains, is_missing, lookup, show
from evals.observation import TurnObservation


@dataclass(frozen=True, slots=True)
class EscalatedIs(Assertion):
    """The conversation was handed to humans in this turn (with this reason / team, when given)."""

    kind: ClassVar[str] = "escalated"
    reason: str | None = None
    team: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        if value is True:
            return cls()
        if isinstance(value, str):
            return cls(reason=value)
        if isinstance(value, dict) and set(value) <= {"reason", "team"}:
            return cls(value.get("reason"), value.get("team"))
        raise AssertionSyntaxError("escalated expects true, a reason, or a mapping with reason/team")

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        expected = "escalated" + "".join(f" {k}={v!r}" for k, v in (("reason", self.reason), ("team", self.team)) if v)
        event = turn.escalation
        if event is None:
            status = turn.state.status
            return self.outcome(False, expected, f"not escalated in this turn (status {status})")
        passed = (self.reason is None or event.reason == self.reason) and (self.team is None or event.team == self.team)
        return self.outcome(passed, expected, f"escalated reason={event.reason!r} team={event.team!r}")


@dataclass(frozen=True, slots=True)
class NotEscalated(Assertion):
    """The bot kept the conversation in this turn."""

    kind: ClassVar[str] = "not_escalated"

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        require_true(value, cls.kind)
        return cls()

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        event = turn.escalation
        actual = "not escalated" if event is None else f"escalated reason={event.reason!r}"
        return self.outcome(event is None, "not escalated", actual)


@dataclass(frozen=True, slots=True)
class HandoffContextContains(Assertion):
    """The handoff context package holds these dotted keys with (at least) these values.

    Mappings match on the keys given, lists must contain the items given, ``null`` only asks for the key.
    """

    kind: ClassVar[str] = "handoff_context_contains"
    expected: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return cls({k: None for k in value})
        if not isinstance(value, dict) or not value:
            raise AssertionSyntaxError("handoff_context_contains expects a mapping of dotted keys to values")
        return cls(dict(value))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        escalation = turn.state.escalation
        expected = ", ".join(k if v is None else f"{k}={show(v)}" for k, v in self.expected.items())
        if escalation is None:
            return self.outcome(False, f"handoff context with {expected}", "the conversation was not escalated")
        problems = []
        for path, want in self.expected.items():
            got = lookup(escalation.context, path)
            if is_missing(got):
                problems.append(f"{path}: missing")
            elif want is not None and not contains(got, want):
                problems.append(f"{path}: {show(got)[:300]}")
        actual = "; ".join(problems) if problems else "all present"
        return self.outcome(not problems, f"handoff context with {expected}", actual)


@dataclass(frozen=True, slots=True)
class GuardrailTriggeredIs(Assertion):
    """A guardrail decided something other than "continue" in this turn (category, decision)."""

    kind: ClassVar[str] = "guardrail_triggered"
    category: str | None = None
    decision: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        if isinstance(value, str):
            return cls(category=value)
        if isinstance(value, dict) and value and set(value) <= {"category", "decision"}:
            return cls(value.get("category"), value.get("decision"))
        raise AssertionSyntaxError("guardrail_triggered expects a category or {category, decision}")

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        from bot.kernel.events import GuardrailTriggered

        seen = [(e.category, e.decision) for e in turn.events if isinstance(e, GuardrailTriggered)]
        passed = any((self.category is None or c == self.category) and (self.decision is None or d == self.decision)
                     for c, d in seen)
        expected = "guardrail " + " ".join(f"{k}={v!r}" for k, v in (("category", self.category),
                                                                    ("decision", self.decision)) if v)
        actual = ", ".join(f"category={c!r} decision={d!r}" for c, d in seen) or "no guardrail triggered"
        return self.outcome(passed, expected, actual)
