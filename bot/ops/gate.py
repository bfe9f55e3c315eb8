"""The scope checks the engine asks each turn: before understanding (global, channel, active flow,
rollout) and after it (the understood intent and the flow it would start)."""

from __future__ import annotations

import hashlib

from bot.ops.scope import ScopeService
from bot.pipeline.turn import Turn
from bot.project import Project


def rollout_bucket(conversation_id: str) -> float:
    """A stable number in [0, 100) for ``conversation_id``; below the rollout % the bot serves it."""
    digest = hashlib.sha256(conversation_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 10_000 / 100


class ScopeGate:
    """Stage 3's check: is automation on for this conversation, channel and active flow?"""

    def __init__(self, service: ScopeService) -> None:
        self.service = service

    async def blocked(self, turn: Turn) -> str | None:
        scope = self.service.scope
        version = self.service.current.version
        if not scope.automation:
            return f"automation is switched off (scope v{version})"
        if scope.channels.get(turn.channel) is False:
            return f"channel {turn.channel} is switched off (scope v{version})"
        flow = turn.state.active_flow
        if flow is not None and scope.flows.get(flow) is False:
            return f"flow {flow} is switched off (scope v{version})"
        if turn.state.turns <= 1 and scope.rollout < 100 and rollout_bucket(turn.conversation_id) >= scope.rollout:
            return f"new conversation outside the {scope.rollout:g}% rollout (scope v{version})"
        return None


class IntentScopeGate:
    """The check after understanding: is the intent, or the flow it triggers, switched off?"""

    def __init__(self, service: ScopeService, project: Project) -> None:
        self.service = service
        self.triggers: dict[str, list[str]] = {}
        for flow_id, flow in project.flows.items():
            for trigger in flow.nlu_trigger:
                self.triggers.setdefault(trigger.intent, []).append(flow_id)

    async def blocked(self, turn: Turn) -> str | None:
        if turn.understanding is None or turn.understanding.intent is None:
            return None
        scope = self.service.scope
        version = self.service.current.version
        intent = turn.understanding.intent
        if scope.intents.get(intent) is False:
            return f"intent {intent} is switched off (scope v{version})"
        for flow_id in self.triggers.get(intent, ()):
            if scope.flows.get(flow_id) is False:
                return f"flow {flow_id} is switched off (scope v{version})"
        return None
