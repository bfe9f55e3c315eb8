"""One agent's live feed: which bus events reach the agent console's socket, and in what form.

The bus carries every conversation's events. An :class:`AgentFeed` follows who owns each handed-off
conversation from the events themselves (seeded from the queue when the socket opens) and lets through
only the events of conversations its agent may see (:func:`bot.handoff.privacy.may_see`): a conversation
becomes visible with its ``escalated`` event — what came before is in the context package, never live —
stays visible to everyone while it waits, only to its owner (and admins) once claimed, and to nobody once
it is back with the bot or closed (its ``returned_to_bot``/``closed`` event still reaches whoever saw it).
``queue_changed`` tells every agent who could see the conversation before or after a queue event to reload
the queue. Events are masked with the conversation's :class:`~bot.handoff.privacy.Redactor`.
"""

from __future__ import annotations

from typing import Any

from bot.handoff.privacy import Redactor, may_see
from bot.handoff.service import HandoffService
from bot.infra.logs import get_logger
from bot.infra.settings import Principal
from bot.kernel.conversation import ConversationState
from bot.kernel.errors import StoreError
from bot.kernel.events import AgentJoined, ConversationEnded, Escalated, Event, ReturnedToBot

log = get_logger(__name__)

#: Event types that change the queue (the console reloads it when one arrives).
QUEUE_EVENTS = frozenset({"escalated", "agent_joined", "returned_to_bot", "closed"})


def live_event(event: Event) -> dict[str, Any]:
    """An event as the console receives it (an escalation's bulky context left out; fetch it by id)."""
    data = event.to_dict()
    if isinstance(event, Escalated):
        data.pop("context", None)
    return data


class AgentFeed:
    """Filters and masks bus events for one agent's socket."""

    def __init__(self, service: HandoffService, principal: Principal) -> None:
        self.service = service
        self.principal = principal
        self._owners: dict[str, tuple[str, str | None]] = {}
        """Handed-off conversations: id → (status, owning agent)."""
        self._masks: dict[str, tuple[ConversationState, Redactor]] = {}

    async def load(self) -> None:
        """Ownership from the queue (call after subscribing to the bus, so nothing falls in between; call again
        after a :class:`~bot.infra.bus.Resync`: what left the queue meanwhile is forgotten)."""
        entries = await self.service.queue.entries()
        self._owners = {entry.conversation_id: (entry.status, entry.agent) for entry in entries}
        self._masks.clear()

    def visible(self, conversation_id: str) -> bool:
        """True when the agent may see the conversation now."""
        owner = self._owners.get(conversation_id)
        return owner is not None and may_see(self.principal, *owner)

    def _follow(self, conversation_id: str, event: Event) -> None:
        match event:
            case Escalated():
                self._owners[conversation_id] = ("handoff", None)
            case AgentJoined(agent=agent):
                self._owners[conversation_id] = ("agent", agent)
            case ReturnedToBot() | ConversationEnded():
                self._owners.pop(conversation_id, None)

    async def messages(self, conversation_id: str, event: Event) -> list[dict[str, Any]]:
        """The socket messages ``event`` of ``conversation_id`` gives this agent (often none)."""
        before = self.visible(conversation_id)
        self._follow(conversation_id, event)
        after = self.visible(conversation_id)
        out: list[dict[str, Any]] = []
        if after or (before and isinstance(event, ReturnedToBot | ConversationEnded)):
            masked = await self._mask(conversation_id, event)
            if masked is not None:
                out.append({"type": "event", "conversation_id": conversation_id, "event": live_event(masked)})
        if event.type in QUEUE_EVENTS and (before or after):
            out.append({"type": "queue_changed", "conversation_id": conversation_id})
        if not after:
            self._masks.pop(conversation_id, None)
        return out

    async def _mask(self, conversation_id: str, event: Event) -> Event | None:
        """``event`` masked with its conversation's redactor (reloaded when the event is newer than it)."""
        cached = self._masks.get(conversation_id)
        if cached is None or event not in cached[0].events:
            try:
                state = await self.service.engine.state(conversation_id)
            except StoreError as exc:
                log.warning("handoff_live_event_dropped", conversation_id=conversation_id, event_type=event.type,
                            error=str(exc))
                return None
            cached = (state, self.service.redactor(self.principal, state))
            self._masks[conversation_id] = cached
        return cached[1].event(event)
