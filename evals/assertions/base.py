"""The assertion interface: an :class:`Assertion` checks one turn and returns an :class:`Outcome`."""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
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
    skipped: bool = False
    """The assertion could not be judged here (``actual`` says why); it does not fail the case."""

    def to_dict(self) -> dict[str, Any]:
        return {"assertion": self.assertion, "passed": self.passed, "expected": self.expected,
                "actual": self.actual, "diff": self.diff, "skipped": self.skipped}


DocumentText = Callable[[str], "str | None"]
Similarity = Callable[[str, Sequence[str]], list[float]]
"""Cosine similarity of a text to each of some texts under the project's embedding model."""
FlowsOfPayload = Callable[[str], tuple[str, ...]]
"""The flows a button payload would start (``/transfer_money`` → ``("transfer_money",)``)."""


@dataclass(frozen=True, slots=True)
class CheckContext:
    """What assertions may consult besides the turn itself."""

    account_data: tuple[str, ...] = ()
    """Strings that must not reach an unverified customer (``no_account_data_disclosed``)."""
    document_text: DocumentText | None = None
    """Text of a knowledge document by ``doc_id`` (in-process runs), for ``answer_is_grounded``."""
    similarity: Similarity | None = None
    """The embedding model's similarity (in-process runs), for Rasa's generative-response judgements."""
    flows_of_payload: FlowsOfPayload | None = None
    """Which flows a button starts (in-process runs), for ``pattern_clarification_contains``."""
    response_text: DocumentText | None = None
    """The template of a domain response by name (in-process runs): the ground truth of a response sent as
    written."""


class AssertionSyntaxError(ValueError):
    """An assertion in a suite file is malformed; the loader adds file and line."""


class Assertion(abc.ABC):
    """Something one turn must satisfy."""

    kind: ClassVar[str]
    negative: ClassVar[bool] = False
    """True when the assertion says something did *not* happen (it matches no event of its own)."""

    @classmethod
    @abc.abstractmethod
    def parse(cls, value: Any) -> Assertion:
        """Build from the YAML value under the assertion's key (raise :class:`AssertionSyntaxError`)."""

    @abc.abstractmethod
    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        """Judge ``turn``."""

    def outcome(self, passed: bool, expected: str, actual: str, diff: str = "") -> Outcome:
        return Outcome(self.kind, passed, expected, actual, diff)

    def skip(self, expected: str, why: str) -> Outcome:
        """Not judged (``why``): passes, marked skipped."""
        return Outcome(self.kind, True, expected, f"skipped: {why}", skipped=True)


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
