"""The assertion interface: an :class:`Assertion` checks one turn and returns an :class:`Outcome`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from bot.kernel.events import FlowCancelled, FlowCompleted, FlowStarted, FlowStepReached
from evals.observation import TurnObservation


@dataclass(frozen=True, slots=True)
class Outcome:
    """The verdict of one assertion on one turn."""

    assertion: str
    """The assertion's key (``bot_uttered``)."""
    passed: bool
    expected: str
    """What the case asked for, in words."""
    actual: str
    """What the bot did instead (or also, when it passed)."""
    diff: str = ""
    """A unified diff when a text was close but not equal."""

    def to_dict(self) -> dict[str, Any]:
        return {"assertion": self.assertion, "passed": self.passed, "expected": self.expected,
                "actual": self.actual, "diff": self.diff}


DocumentText = Callable[[str], "str | None"]


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What assertions may consult besides the turn itself."""

    account_data: tuple[str, ...] = ()
    """Strings that must not reach an unverified customer (``no_account_data_disclosed``)."""
    document_text: DocumentText | None = None
    """Text of a knowledge document by ``doc_id`` (in-process runs), for ``answer_is_grounded``."""


class AssertionSyntaxError(ValueError):
    """An assertion in a suite file is malformed; the loader adds file and line."""


class Assertion(abc.ABC):
    """Something one turn must satisfy."""

    kind: ClassVar[str]

    @classmethod
    @abc.abstractmethod
    def parse(cls, value: Any) -> Assertion:
        """Build from the YAML value under the assertion's key (raise :class:`AssertionSyntaxError`)."""

    @abc.abstractmethod
    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        """Judge ``turn``."""

    def outcome(self, passed: bool, expected: str, actual: str, diff: str = "") -> Outcome:
        return Outcome(self.kind, passed, expected, actual, diff)


def name_of(value: Any, key: str, kind: str) -> str:
    """A non-empty string from ``value`` or ``value[key]``."""
    if isinstance(value, dict):
        value = value.get(key)
    if not isinstance(value, str) or not value:
        raise AssertionSyntaxError(f"{kind} expects a name or a mapping with '{key}'")
    return value


def require_true(value: Any, kind: str) -> None:
    if value is not True:
        raise AssertionSyntaxError(f"{kind} takes the value true")


FlowEvent = FlowStarted | FlowStepReached | FlowCompleted | FlowCancelled
"""The events that name a flow (``flow_id``)."""


def flow_events(turn: TurnObservation, cls: type[FlowEvent]) -> list[str]:
    """The flows of this turn's ``cls`` events, in order."""
    return [e.flow_id for e in turn.events if isinstance(e, cls)]
