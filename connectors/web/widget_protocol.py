"""What the web widget is allowed to see and send: the customer's view of a conversation, the id
format, origin checks and the duplicate-id fast path (rate limits are :mod:`bot.infra.ratelimit`'s).

The customer's view keeps what was said and who owns the conversation; slots, flow steps,
guardrail signals, the handoff context and agents' internal notes never leave the server.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    BotUttered,
    ConversationEnded,
    Escalated,
    Event,
    ReturnedToBot,
    UserUttered,
)

#: Widget conversation ids: ``w_`` and at least 128 random bits (the browser draws them).
CONVERSATION_ID = re.compile(r"^w_[A-Za-z0-9_-]{22,64}$")
#: Ids the browser gives its messages, so a message resent after a reconnect is stored once.
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
#: Longest button title the widget may ask to show in place of a button's payload.
MAX_LABEL = 200
#: Shown when an agent has no display name.
DEFAULT_AGENT_NAME = "Support agent"
#: Bot notices about who owns the conversation, by the status line they word (shown as that line).
NOTICES = {
    "utter_handoff": "handoff",
    "utter_handoff_position": "handoff",
    "utter_handoff_wait": "handoff",
    "utter_transferred": "handoff",
    "utter_agent_joined": "agent_joined",
    "utter_returned_to_bot": "returned_to_bot",
    "utter_resume_flow": "returned_to_bot",
}
#: The bot's satisfaction question after an agent closed (its buttons are the 1-5 scores).
CSAT_RESPONSE = "utter_csat"


def public_item(event: Event) -> dict[str, Any] | None:
    """The customer's view of ``event``, or ``None`` when the customer must not see it."""
    item: dict[str, Any]
    match event:
        case UserUttered(metadata=metadata) if metadata.get("widget_start"):
            return None
        case UserUttered(text=text, metadata=metadata):
            item = {"kind": "user", "text": metadata.get("button_title") or text}
            if metadata.get("client_id"):
                item["client_id"] = metadata["client_id"]
        case BotUttered(text=text, buttons=buttons, citations=citations, response=response):
            item = {"kind": "bot", "text": text,
                    "buttons": [{"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                                for b in buttons],
                    "citations": [{"title": c.get("title") or c.get("url") or "source", "url": c.get("url"),
                                   "heading": c.get("heading")} for c in citations]}
            if response in NOTICES:
                item["notice"] = NOTICES[response]
            elif response == CSAT_RESPONSE:
                item["csat"] = True
        case Escalated():
            item = {"kind": "handoff"}
        case AgentJoined(display_name=name):
            item = {"kind": "agent_joined", "name": name or DEFAULT_AGENT_NAME}
        case AgentMessage(display_name=name, text=text):
            item = {"kind": "agent", "name": name or DEFAULT_AGENT_NAME, "text": text}
        case ReturnedToBot():
            item = {"kind": "returned_to_bot"}
        case ConversationEnded():
            item = {"kind": "closed"}
        case _:
            return None
    item["ts"] = event.timestamp
    return item


def public_items(events: Iterable[Event]) -> list[dict[str, Any]]:
    """The customer's view of ``events``, oldest first."""
    return [item for item in map(public_item, events) if item is not None]


def origin_allowed(origin: str | None, host: str, allowed: Iterable[str]) -> bool:
    """True for no ``Origin`` (not a browser), the server's own host, or an allow-listed origin."""
    if origin is None:
        return True
    allowed = list(allowed)
    if "*" in allowed or origin.rstrip("/") in allowed:
        return True
    return bool(host) and urlsplit(origin).netloc == host


class RecentIds:
    """A bounded memory of keys seen lately (oldest forgotten first)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[Any, None] = OrderedDict()

    def add(self, key: Any) -> bool:
        """Remember ``key``; False when it was already remembered."""
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True

    def discard(self, key: Any) -> None:
        """Forget ``key`` (its message was refused and may be sent again)."""
        self._seen.pop(key, None)
