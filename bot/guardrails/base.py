"""Detectors observe a turn and return scored signals; one policy turns signals into a decision.

Detectors never act on the conversation themselves (see ARCHITECTURE.md, "Boundaries").
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.kernel.conversation import ConversationState


@dataclass(frozen=True, slots=True)
class Signal:
    """What one detector saw: ``category`` scored 0..1, with the evidence behind it."""

    detector: str
    category: str
    score: float
    evidence: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"detector": self.detector, "category": self.category, "score": round(self.score, 4),
                "evidence": self.evidence}


class Action(StrEnum):
    """What the policy decides."""

    CONTINUE = "continue"
    OFFER_HUMAN = "offer_human"
    ESCALATE = "escalate"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's verdict for a turn; ``reason`` is the escalation reason when escalating."""

    action: Action
    category: str = ""
    reason: str = ""
    signals: tuple[Signal, ...] = field(default_factory=tuple)
    team: str | None = None
    """Team to route an escalation to (``None`` lets routing decide)."""
    message: str | None = None
    """What to tell the customer instead of the default (the safety information for self-harm)."""


CONTINUE = Decision(Action.CONTINUE)


class Detector(abc.ABC):
    """Observes the customer's message and the conversation so far."""

    name: str = "detector"
    kind: str = "rule"
    """What the detector is: ``rule`` (patterns), ``model`` (trained) or ``both`` (see docs/guardrails.md)."""

    @abc.abstractmethod
    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        """Signals for this message (empty when nothing was seen)."""


class Policy(abc.ABC):
    """Maps signals to one decision."""

    @abc.abstractmethod
    def decide(self, signals: list[Signal], state: ConversationState) -> Decision:
        """The decision for this turn."""
