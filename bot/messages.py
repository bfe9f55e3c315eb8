"""What channels hand to the engine and what they get back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class UserMessage:
    """One thing the customer said or pressed, as a channel received it."""

    text: str
    channel: str = "rest"
    metadata: dict[str, Any] = field(default_factory=dict)


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
