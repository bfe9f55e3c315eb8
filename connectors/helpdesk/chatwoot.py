"""Chatwoot as the agents' desk, with agent-bot semantics.

On escalation the conversation is created in a Chatwoot API inbox (contact identified by the Careline
conversation id), the context package is posted as a private note and the status is set to ``open``
(humans). What the customer writes meanwhile is posted as incoming messages; replies written in
Careline's own console are mirrored as outgoing ones. From Chatwoot's webhook (``message_created``,
``conversation_status_changed``): an agent's public reply becomes the customer's agent message, a
private one a note, status ``pending`` returns the conversation to the bot and ``resolved`` closes it.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.customers.registry import DataTable, register
from bot.handoff.config import ChatwootConfig
from bot.handoff.service import HandoffService
from bot.infra.logs import get_logger
from bot.infra.settings import Principal
from bot.kernel.errors import ProviderError, RequestError
from bot.kernel.events import AgentMessage, ConversationEnded, Escalated, Event, ReturnedToBot, UserUttered
from bot.storage import Database
from connectors.helpdesk.dispatcher import Target
from connectors.helpdesk.webhook import from_integration

log = get_logger(__name__)

PREFIX = "chatwoot:"
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS chatwoot_links (
        conversation_id TEXT PRIMARY KEY,
        chatwoot_id INTEGER NOT NULL,
        contact_id INTEGER)""",
    "CREATE INDEX IF NOT EXISTS chatwoot_links_remote ON chatwoot_links (chatwoot_id)",
)
register(DataTable("chatwoot_links", "conversation", "conversation_id", "delete",
                   "which Chatwoot conversation mirrors a Careline one (erase the Chatwoot side there)",
                   owner="connectors.helpdesk.chatwoot"))


def context_note(context: dict[str, Any]) -> str:
    """The (masked) context package as a private note an agent can read at a glance."""
    customer = context.get("customer", {})
    lines = [
        f"Careline handoff — reason: {context.get('reason')}, team: {context.get('team')}",
        f"Customer: {customer.get('id') or 'unknown'} ({'verified' if customer.get('verified') else 'not verified'}"
        + (f"; gave {', '.join(customer['proofs'])})" if customer.get("proofs") else ")"),
        f"Sentiment: {context.get('sentiment', {}).get('trend', 'unknown')}",
        f"Summary: {context.get('summary')}",
    ]
    signals = context.get("signals") or []
    if signals:
        lines.append("Signals: " + ", ".join(f"{s.get('category')} {s.get('score')}" for s in signals))
    slots = {k: v for k, v in (context.get("slots") or {}).items() if v not in (None, "", False)}
    if slots:
        lines.append("Slots: " + ", ".join(f"{k}={v}" for k, v in slots.items()))
    lines.append("Transcript:")
    lines.extend(f"  {t['from']}: {t['text']}" for t in context.get("transcript", []))
    return "\n".join(lines)


class ChatwootTarget(Target):
    """Mirrors handoffs into Chatwoot through its application API."""

    name = "chatwoot"

    def __init__(self, config: ChatwootConfig, api_token: str, db: Database) -> None:
        if not api_token:
            raise ValueError(f"the Chatwoot API token is empty: set {config.api_token_env}")
        self.config = config
        self.token = api_token
        self.db = db
        self._session: aiohttp.ClientSession | None = None

    async def setup(self) -> None:
        await self.db.migrate(SCHEMA)

    def wants(self, event: Event) -> bool:
        if isinstance(event, UserUttered):
            return event.for_agent
        if from_integration(event, PREFIX):
            return False
        return isinstance(event, Escalated | AgentMessage | ReturnedToBot | ConversationEnded)

    # the API -----------------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.config.base_url.rstrip('/')}/api/v1/accounts/{self.config.account_id}{path}"

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.config.timeout))
        try:
            async with self._session.post(self._url(path), json=body,
                                          headers={"api_access_token": self.token}) as response:
                if response.status >= 300:
                    text = (await response.text())[:200]
                    permanent = 400 <= response.status < 500 and response.status not in (408, 429)
                    raise ProviderError(f"Chatwoot {path} answered HTTP {response.status}: {text}",
                                        provider=self.name, permanent=permanent)
                data: dict[str, Any] = await response.json(content_type=None) or {}
                return data
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderError(f"Chatwoot unreachable: {type(exc).__name__}: {exc}", provider=self.name) from exc

    async def _link(self, conversation_id: str) -> int | None:
        value = await self.db.fetchval("SELECT chatwoot_id FROM chatwoot_links WHERE conversation_id = ?",
                                       conversation_id)
        return None if value is None else int(value)

    async def _create(self, conversation_id: str, event: Escalated) -> int:
        contact = await self._post("/contacts", {"inbox_id": self.config.inbox_id, "name": conversation_id,
                                                 "identifier": conversation_id})
        payload = contact.get("payload", contact)
        contact_id = (payload.get("contact") or payload).get("id")
        source_id = (payload.get("contact_inbox") or {}).get("source_id") or conversation_id
        created = await self._post("/conversations", {
            "inbox_id": self.config.inbox_id, "contact_id": contact_id, "source_id": source_id, "status": "pending",
            "additional_attributes": {"careline_conversation_id": conversation_id},
            "custom_attributes": {"careline_reason": event.reason, "careline_team": event.team},
        })
        chatwoot_id = int(created["id"])
        await self.db.execute("INSERT INTO chatwoot_links (conversation_id, chatwoot_id, contact_id) VALUES (?, ?, ?) "
                              "ON CONFLICT (conversation_id) DO UPDATE SET chatwoot_id = excluded.chatwoot_id",
                              conversation_id, chatwoot_id, contact_id)
        return chatwoot_id

    async def deliver(self, conversation_id: str, event: Event, key: str) -> None:
        chatwoot_id = await self._link(conversation_id)
        if isinstance(event, Escalated):
            if chatwoot_id is None:
                chatwoot_id = await self._create(conversation_id, event)
            await self._post(f"/conversations/{chatwoot_id}/messages",
                             {"content": context_note(event.context), "message_type": "outgoing", "private": True,
                              "content_attributes": {"careline_key": key}})
            await self._post(f"/conversations/{chatwoot_id}/toggle_status", {"status": "open"})
            return
        if chatwoot_id is None:
            return  # never escalated to Chatwoot (e.g. configured later): nothing to mirror
        if isinstance(event, UserUttered):
            await self._post(f"/conversations/{chatwoot_id}/messages",
                             {"content": event.text, "message_type": "incoming", "private": False,
                              "content_attributes": {"careline_key": key}})
        elif isinstance(event, AgentMessage):
            await self._post(f"/conversations/{chatwoot_id}/messages",
                             {"content": event.text, "message_type": "outgoing", "private": False,
                              "content_attributes": {"careline_key": key}})
        elif isinstance(event, ReturnedToBot):
            await self._post(f"/conversations/{chatwoot_id}/toggle_status", {"status": "pending"})
        elif isinstance(event, ConversationEnded):
            await self._post(f"/conversations/{chatwoot_id}/toggle_status", {"status": "resolved"})

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


async def apply_chatwoot_webhook(service: HandoffService, db: Database, body: dict[str, Any]) -> dict[str, Any]:
    """Turn one Chatwoot webhook into agent actions; events that are not the agents' are ignored."""
    event = body.get("event")
    conversation = body.get("conversation") if event == "message_created" else body
    if not isinstance(conversation, dict) or "id" not in conversation:
        raise RequestError("a Chatwoot webhook needs the conversation (its 'id')")
    conversation_id = await db.fetchval("SELECT conversation_id FROM chatwoot_links WHERE chatwoot_id = ?",
                                        int(conversation["id"]))
    if conversation_id is None:
        return {"ignored": "unknown conversation"}
    if event == "message_created":
        sender = body.get("sender") or {}
        attributes = body.get("content_attributes") or {}
        if (body.get("message_type") not in ("outgoing", 1) or sender.get("type") not in ("user", None)
                or "careline_key" in attributes or not body.get("content")):
            return {"ignored": "not an agent's message"}
        principal = Principal(f"{PREFIX}{sender.get('name') or 'agent'}", "integration", "")
        if body.get("private"):
            await service.note(principal, conversation_id, body["content"])
            return {"applied": "note"}
        state = await service.engine.state(conversation_id)
        if str(state.status) == "handoff":
            await service.claim(principal, conversation_id)
        await service.send(principal, conversation_id, body["content"])
        return {"applied": "message"}
    if event == "conversation_status_changed":
        principal = Principal(f"{PREFIX}status", "integration", "")
        status = body.get("status")
        state = await service.engine.state(conversation_id)
        if str(state.status) not in ("handoff", "agent"):
            return {"ignored": f"conversation is with the bot ({state.status})"}
        if status == "pending":
            await service.return_to_bot(principal, conversation_id)
            return {"applied": "return_to_bot"}
        if status == "resolved":
            await service.close(principal, conversation_id)
            return {"applied": "close"}
    return {"ignored": f"event {event!r}"}
