"""The generic helpdesk webhook: signed JSON out on escalation and status changes, signed actions back in.

Outbound body::

    {"event": "escalated" | "agent_joined" | "agent_message" | "customer_message" | "returned_to_bot" | "closed",
     "conversation_id": "...", "at": 1732000000.0, "data": {...the event...},
     "context": {...the context package, on "escalated" only...}}

Headers: ``X-Careline-Timestamp``, ``X-Careline-Signature: sha256=...`` (see :mod:`.signing`),
``Idempotency-Key`` (the same on every retry of one event) and ``X-Careline-Event``. 5xx, 429 and
connection errors are retried with exponential backoff; other 4xx are permanent.

Inbound (``POST /api/helpdesk/webhook``, signed the same way)::

    {"conversation_id": "...", "action": "message" | "note" | "claim" | "transfer" | "return_to_bot" | "close",
     "agent": "jane", "text": "...", "team": "..."}
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from bot.handoff.config import WebhookConfig
from bot.handoff.service import HandoffService
from bot.infra.settings import Principal
from bot.kernel.errors import ProviderError, RequestError
from bot.kernel.events import AgentJoined, AgentMessage, ConversationEnded, Escalated, Event, ReturnedToBot, UserUttered
from connectors.helpdesk.dispatcher import Target
from connectors.helpdesk.signing import sign

EVENT_NAMES = {"escalated": "escalated", "agent_joined": "agent_joined", "agent_message": "agent_message",
               "user": "customer_message", "returned_to_bot": "returned_to_bot", "closed": "closed"}
INBOUND_ACTIONS = ("message", "note", "claim", "transfer", "return_to_bot", "close")


def from_integration(event: Event, prefix: str) -> bool:
    """True when a helpdesk integration (agent names starting with ``prefix``) caused ``event``."""
    who = getattr(event, "agent", None) or getattr(event, "by", None)
    return isinstance(who, str) and who.startswith(prefix)


def payload(conversation_id: str, event: Event) -> dict[str, Any]:
    """The outbound JSON body for ``event``."""
    data = event.to_dict()
    body: dict[str, Any] = {"event": EVENT_NAMES[event.type], "conversation_id": conversation_id,
                            "at": event.timestamp}
    if isinstance(event, Escalated):
        body["context"] = data.pop("context")
    body["data"] = data
    return body


class WebhookTarget(Target):
    """POSTs signed events to the configured URL."""

    name = "webhook"

    def __init__(self, config: WebhookConfig, secret: str) -> None:
        if not secret:
            raise ValueError(f"the webhook secret is empty: set {config.secret_env}")
        self.config = config
        self.secret = secret
        self.max_attempts = config.max_attempts
        self.backoff = config.backoff
        self._session: aiohttp.ClientSession | None = None

    def wants(self, event: Event) -> bool:
        if isinstance(event, UserUttered):
            return event.for_agent
        if from_integration(event, "helpdesk:"):
            return False  # the helpdesk did it; do not echo it back
        return isinstance(event, Escalated | AgentJoined | AgentMessage | ReturnedToBot | ConversationEnded)

    async def deliver(self, conversation_id: str, event: Event, key: str) -> None:
        body = json.dumps(payload(conversation_id, event), default=str).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": key,
                   "X-Careline-Event": EVENT_NAMES[event.type], **sign(self.secret, body)}
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        try:
            async with self._session.post(self.config.url, data=body, headers=headers) as response:
                if response.status < 300:
                    return
                text = (await response.text())[:200]
                permanent = 400 <= response.status < 500 and response.status not in (408, 429)
                raise ProviderError(f"webhook answered HTTP {response.status}: {text}", provider=self.name,
                                    permanent=permanent)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"webhook unreachable: {type(exc).__name__}: {exc}", provider=self.name) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def apply_inbound(service: HandoffService, body: dict[str, Any]) -> dict[str, Any]:
    """Carry out one signed inbound action for the helpdesk agent it names; refusals raise RequestError."""
    conversation_id, action, agent = body.get("conversation_id"), body.get("action"), body.get("agent")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise RequestError("'conversation_id' is required")
    if action not in INBOUND_ACTIONS:
        raise RequestError(f"'action' must be one of {', '.join(INBOUND_ACTIONS)}, got {action!r}")
    if not isinstance(agent, str) or not agent.strip():
        raise RequestError("'agent' (the helpdesk agent's name) is required")
    principal = Principal(f"helpdesk:{agent.strip()}", "integration", "")
    if action in ("message", "claim"):
        state = await service.engine.state(conversation_id)
        if str(state.status) == "handoff":
            await service.claim(principal, conversation_id)
        if action == "claim":
            return {"status": "agent"}
        outcome = await service.send(principal, conversation_id, body.get("text"))
    elif action == "note":
        outcome = await service.note(principal, conversation_id, body.get("text"))
    elif action == "transfer":
        outcome = await service.transfer(principal, conversation_id, body.get("team"), body.get("note"))
    elif action == "return_to_bot":
        outcome = await service.return_to_bot(principal, conversation_id)
    else:
        outcome = await service.close(principal, conversation_id)
    return {"status": str(outcome.state.status)}
