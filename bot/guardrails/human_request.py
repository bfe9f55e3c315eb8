"""Explicit requests for a human ("agent", "real person", pressing 0 on voice)."""

from __future__ import annotations

import re

from bot.conversation import ConversationState
from bot.guardrails.base import Action, Decision, Detector, Policy, Signal
from bot.project.schema import HumanRequest


class detect_human_request(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Fires when the customer asks for a person by one of the configured phrases or the DTMF key."""

    name = "human_request"

    def __init__(self, config: HumanRequest) -> None:
        words = "|".join(re.escape(p) for p in sorted(config.phrases, key=len, reverse=True))
        self._pattern = re.compile(rf"\b(?:{words})s?\b", re.IGNORECASE) if words else None
        self._dtmf = config.dtmf

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        stripped = text.strip()
        if stripped == "/human" or (channel == "voice" and stripped == self._dtmf):
            return [Signal(self.name, "requested", 1.0, stripped)]
        if self._pattern is not None and (match := self._pattern.search(text)):
            return [Signal(self.name, "requested", 0.9, match.group(0))]
        return []


class EscalateOnRequest(Policy):
    """The foundation policy: an explicit request for a human escalates; everything else continues."""

    def decide(self, signals: list[Signal], state: ConversationState) -> Decision:
        requested = [s for s in signals if s.category == "requested"]
        if requested:
            return Decision(Action.ESCALATE, "requested", "requested", tuple(requested))
        return Decision(Action.CONTINUE)
