"""Rasa-like tracker JSON for a conversation (what ``GET /conversations/{id}/tracker`` returns)."""

from __future__ import annotations

from typing import Any

from bot.kernel.conversation import ConversationState
from bot.kernel.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered


def rasa_event(event: Event) -> dict[str, Any]:
    """One event in Rasa's tracker-event shape (``user``, ``bot``, ``slot``, ``action``); ours keep their type."""
    if isinstance(event, UserUttered):
        return {
            "event": "user",
            "timestamp": event.timestamp,
            "text": event.text,
            "input_channel": event.channel,
            "parse_data": {
                "intent": {"name": event.intent, "confidence": event.confidence},
                "entities": list(event.entities),
                "intent_ranking": list(event.ranking),
            },
            "metadata": event.metadata,
            "for_agent": event.for_agent,
        }
    if isinstance(event, BotUttered):
        data: dict[str, Any] = {"buttons": list(event.buttons) or None}
        if event.citations:
            data["citations"] = list(event.citations)
        return {"event": "bot", "timestamp": event.timestamp, "text": event.text, "data": data,
                "metadata": {"utter_action": event.response}, "interrupted": event.interrupted}
    if isinstance(event, SlotSet):
        return {"event": "slot", "timestamp": event.timestamp, "name": event.name, "value": event.value}
    if isinstance(event, ActionExecuted):
        return {"event": "action", "timestamp": event.timestamp, "name": event.name, "ok": event.ok,
                "error": event.error}
    data = event.to_dict()
    return {"event": data.pop("type"), **data}


def tracker_json(state: ConversationState) -> dict[str, Any]:
    """The tracker of ``state``: Rasa's keys plus ``status``, ``active_flow`` and ``handoff``."""
    latest = state.latest_user
    latest_message: dict[str, Any] = {}
    if latest is not None:
        latest_message = {
            "text": latest.text,
            "intent": {"name": latest.intent, "confidence": latest.confidence},
            "entities": list(latest.entities),
            "intent_ranking": list(latest.ranking),
        }
    handoff = None
    if state.escalation is not None:
        handoff = {
            "reason": state.escalation.reason,
            "team": state.escalation.team,
            "priority": state.escalation.priority,
            "signals": list(state.escalation.signals),
            "context": state.escalation.context,
            "at": state.escalation.timestamp,
        }
    return {
        "sender_id": state.conversation_id,
        "slots": dict(state.slots),
        "latest_message": latest_message,
        "latest_event_time": state.events[-1].timestamp if state.events else None,
        "events": [rasa_event(e) for e in state.events],
        "status": str(state.status),
        "active_flow": state.active_flow,
        "flow_stack": [{"flow_id": f.flow_id, "step_id": f.step_id} for f in state.flow_stack],
        "handoff": handoff,
    }
