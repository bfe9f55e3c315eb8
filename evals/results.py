"""What a run produced: per-case verdicts with transcripts, plus the run's metrics, as plain JSON.

The JSON written by ``careline eval --json`` is :meth:`RunResult.to_dict`; ``--compare`` reads it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from evals.assertions import Outcome
from evals.format import Case
from evals.observation import TurnObservation

SCHEMA_VERSION = 1


class Status(StrEnum):
    """A case's verdict."""

    PASSED = "passed"
    FAILED = "failed"
    """Some assertion did not hold."""
    ERROR = "error"
    """The case could not run to its end (target down, unsupported fixture, engine error)."""


@dataclass(frozen=True, slots=True)
class Checked:
    """One assertion's outcome on one turn of a case."""

    turn: int
    outcome: Outcome
    line: int | None = None
    """Line of the turn's ``user`` step in the suite file."""


@dataclass(slots=True)
class CaseResult:
    """One case, run and judged."""

    case: Case
    turns: list[TurnObservation] = field(default_factory=list)
    checks: list[Checked] = field(default_factory=list)
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def status(self) -> Status:
        if self.error is not None:
            return Status.ERROR
        return Status.PASSED if all(c.outcome.passed for c in self.checks) else Status.FAILED

    @property
    def passed(self) -> bool:
        return self.status is Status.PASSED

    @property
    def failures(self) -> list[Checked]:
        return [c for c in self.checks if not c.outcome.passed]

    @property
    def escalated(self) -> bool:
        """Did the bot hand this conversation to humans?"""
        return any(t.escalation is not None for t in self.turns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.case.id,
            "suite": self.case.suite,
            "name": self.case.name,
            "file": str(self.case.path) if self.case.path else None,
            "line": self.case.line,
            "status": str(self.status),
            "error": self.error,
            "duration_ms": round(self.duration_ms, 2),
            "escalated": self.escalated,
            "expected_escalation": self.case.expects_escalation,
            "turns": [t.to_dict() for t in self.turns],
            "checks": [{"turn": c.turn, "line": c.line, **c.outcome.to_dict()} for c in self.checks],
        }


@dataclass(slots=True)
class RunResult:
    """A whole run: every case and the metrics over them."""

    cases: list[CaseResult]
    metrics: dict[str, Any]
    target: str
    started_at: float
    duration_s: float

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.cases)

    def counts(self) -> dict[str, int]:
        out = {str(s): 0 for s in Status}
        for case in self.cases:
            out[str(case.status)] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "counts": self.counts(),
            "metrics": self.metrics,
            "cases": [c.to_dict() for c in self.cases],
        }
