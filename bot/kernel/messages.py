"""What channels hand to the engine and what they get back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class UserMessage:
    """One thing the customer said or pressed, as a channel received it.

    ``channel`` and ``source`` are set by the connector that received the message, never taken from the
    message body; ``metadata`` is the client's own data, which the engine stores but never trusts.
    """

    text: str
    channel: str = "rest"
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str | None = None
    """Who sent it as the connector saw it (``ip:203.0.113.7``, ``caller:+4420...``); the engine keeps only a
    keyed hash of it (rate limits, lockouts, the circuit breaker's distinct clients)."""
    message_id: str | None = None
    """The client's id for this message: a retry with the same id is answered once, on any worker."""


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply: ``payload`` is sent back as the customer's next message when chosen."""

    title: str
    payload: str

    def to_dict(self) -> dict[str, str]:
        return {"title": self.title, "payload": self.payload}


@dataclass(frozen=True, slots=True)
class BotMessage:
    """One message to the customer. ``sender`` is ``bot`` or an agent's display name."""

    text: str
    buttons: tuple[Button, ...] = ()
    response: str | None = None
    citations: tuple[dict[str, Any], ...] = ()
    sender: str = "bot"
    custom: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"text": self.text}
        if self.buttons:
            data["buttons"] = [b.to_dict() for b in self.buttons]
        if self.citations:
            data["citations"] = list(self.citations)
        if self.sender != "bot":
            data["sender"] = self.sender
        if self.custom:
            data["custom"] = self.custom
        return data
