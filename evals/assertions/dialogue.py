"""Assertions on the dialogue: flows started, completed or cancelled; slots; business actions; intents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from bot.kernel.events import ActionExecuted, Event, FlowCancelled, FlowCompleted, FlowStarted, FlowStepReached, SlotSet
from evals.assertions.base import (
    Assertion,
    AssertionSyntaxError,
    CheckContext,
    Outcome,
    flow_events,
    name_of,
)
from evals.matching import contains, show
from evals.observation import TurnObservation


@dataclass(frozen=True, slots=True)
class FlowStartedIs(Assertion):
    """The flow ``flow_id`` started in this turn."""

    kind: ClassVar[str] = "flow_started"
    flow_id: str

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(name_of(value, "flow_id", cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        started = flow_events(turn, FlowStarted)
        return self.outcome(self.flow_id in started, f"flow {self.flow_id!r} started",
                            f"flows started: {started or 'none'}")


@dataclass(frozen=True, slots=True)
class _FlowEnded(Assertion):
    kind: ClassVar[str] = ""
    event: ClassVar[type[FlowCompleted | FlowCancelled]] = FlowCompleted
    flow_id: str
    flow_step_id: str | None = None

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        step = value.get("flow_step_id") if isinstance(value, dict) else None
        if step is not None and not isinstance(step, str | int):
            raise AssertionSyntaxError(f"{cls.kind}.flow_step_id must be a step id")
        return cls(name_of(value, "flow_id", cls.kind), None if step is None else str(step))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        ended = flow_events(turn, self.event)
        verb = self.kind.removeprefix("flow_")
        expected = f"flow {self.flow_id!r} {verb}" + (f" at step {self.flow_step_id!r}" if self.flow_step_id else "")
        if self.flow_id not in ended:
            active = turn.state.active_flow
            return self.outcome(False, expected, f"flows {verb}: {ended or 'none'}; active flow: {active}")
        if self.flow_step_id is None:
            return self.outcome(True, expected, f"flows {verb}: {ended}")
        last = _last_step(turn.history, self.flow_id)
        return self.outcome(last == self.flow_step_id, expected, f"flow {self.flow_id!r} {verb} at step {last!r}")


def _last_step(history: list[Event], flow_id: str) -> str | None:
    for event in reversed(history):
        if isinstance(event, FlowStepReached) and event.flow_id == flow_id:
            return event.step_id
    return None


@dataclass(frozen=True, slots=True)
class FlowCompletedIs(_FlowEnded):
    """The flow ran to its end in this turn (optionally: its last step was ``flow_step_id``)."""

    kind: ClassVar[str] = "flow_completed"
    event: ClassVar[type[FlowCompleted | FlowCancelled]] = FlowCompleted


@dataclass(frozen=True, slots=True)
class FlowCancelledIs(_FlowEnded):
    """The flow left the stack early in this turn (customer cancelled, or a handoff interrupted it)."""

    kind: ClassVar[str] = "flow_cancelled"
    event: ClassVar[type[FlowCompleted | FlowCancelled]] = FlowCancelled


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """A slot name and, when ``has_value``, the value it must (or must not) have."""

    name: str
    value: Any = None
    has_value: bool = False

    def describe(self) -> str:
        return f"{self.name}={show(self.value)}" if self.has_value else self.name


def _slot_specs(value: Any, kind: str) -> tuple[SlotSpec, ...]:
    """Rasa's ``[{name: x, value: y}]``, the older ``[{x: y}]`` / ``[x]``, or one mapping ``{x: y}``."""
    items = value if isinstance(value, list) else [value]
    specs: list[SlotSpec] = []
    for item in items:
        if isinstance(item, str):
            specs.append(SlotSpec(item))
        elif isinstance(item, dict) and "name" in item and set(item) <= {"name", "value"}:
            specs.append(SlotSpec(str(item["name"]), item.get("value"), "value" in item))
        elif isinstance(item, dict) and item:
            specs.extend(SlotSpec(str(k), v, True) for k, v in item.items())
        else:
            raise AssertionSyntaxError(f"{kind} expects slot names or name/value pairs, got {show(item)}")
    return tuple(specs)


def _slot_sets(turn: TurnObservation) -> dict[str, list[Any]]:
    sets: dict[str, list[Any]] = {}
    for event in turn.events:
        if isinstance(event, SlotSet):
            sets.setdefault(event.name, []).append(event.value)
    return sets


@dataclass(frozen=True, slots=True)
class SlotWasSet(Assertion):
    """Each slot was set in this turn (to the given value, when one is given)."""

    kind: ClassVar[str] = "slot_was_set"
    slots: tuple[SlotSpec, ...]

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(_slot_specs(value, cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        sets = _slot_sets(turn)
        missing = [s.describe() for s in self.slots
                   if s.name not in sets or (s.has_value and not any(contains(v, s.value) for v in sets[s.name]))]
        actual = ", ".join(f"{k}={show(v[-1])}" for k, v in sets.items()) or "no slots set"
        return self.outcome(not missing, "slots set: " + ", ".join(s.describe() for s in self.slots),
                            actual + (f" (not matched: {', '.join(missing)})" if missing else ""))

    def matches(self, turn: TurnObservation) -> list[bool]:
        """Per slot with a value: was it filled correctly (slot-filling accuracy)."""
        sets = _slot_sets(turn)
        return [any(contains(v, s.value) for v in sets.get(s.name, [])) for s in self.slots if s.has_value]


@dataclass(frozen=True, slots=True)
class SlotWasNotSet(Assertion):
    """No slot named here was set in this turn (to the given value, when one is given)."""

    kind: ClassVar[str] = "slot_was_not_set"
    negative: ClassVar[bool] = True
    slots: tuple[SlotSpec, ...]

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(_slot_specs(value, cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        sets = _slot_sets(turn)
        wrong = [f"{s.name}={show(sets[s.name][-1])}" for s in self.slots if s.name in sets
                 and (not s.has_value or any(contains(v, s.value) for v in sets[s.name]))]
        return self.outcome(not wrong, "slots not set: " + ", ".join(s.describe() for s in self.slots),
                            f"set: {', '.join(wrong)}" if wrong else "none of them set")


@dataclass(frozen=True, slots=True)
class ActionWasExecuted(Assertion):
    """The business action ``name`` ran in this turn."""

    kind: ClassVar[str] = "action_executed"
    name: str

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(name_of(value, "name", cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        ran = [e.name + ("" if e.ok else " (failed)") for e in turn.events if isinstance(e, ActionExecuted)]
        names = [e.name for e in turn.events if isinstance(e, ActionExecuted)]
        return self.outcome(self.name in names, f"action {self.name!r} executed", f"actions: {ran or 'none'}")


@dataclass(frozen=True, slots=True)
class IntentIs(Assertion):
    """Understanding classified this turn's message as ``intent``."""

    kind: ClassVar[str] = "intent_is"
    intent: str

    @classmethod
    def parse(cls, value: Any) -> Assertion:
        return cls(name_of(value, "intent", cls.kind))

    def check(self, turn: TurnObservation, context: CheckContext) -> Outcome:
        user = turn.user
        got = user.intent if user else None
        confidence = f" ({user.confidence:.2f})" if user and got else ""
        return self.outcome(got == self.intent, f"intent {self.intent!r}", f"intent {got!r}{confidence}")
