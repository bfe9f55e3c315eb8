"""What the bot tells the customer about the handoff (agent joined, back to the bot, CSAT question...).

Each notice is a domain response when the project defines it (so projects can reword it), else the
default text here.
"""

from __future__ import annotations

from typing import Any

from bot.kernel.events import BotUttered
from bot.pipeline.turn import fill
from bot.project import Project

DEFAULTS = {
    "utter_agent_joined": "{agent_name} from our team has joined the conversation.",
    "utter_transferred": "I'm passing you to our {team} team; they have everything you've told us so far.",
    "utter_returned_to_bot": "You're back with the virtual assistant. Is there anything else I can help with?",
    "utter_resume_flow": "You're back with the virtual assistant. Let's pick up where we left off.",
    "utter_csat": "Before you go: how would you rate the help you received, from 1 (poor) to 5 (excellent)?",
    "utter_csat_thanks": "Thank you for your rating!",
    "utter_handoff_position": "You are number {queue_position} in the queue.",
    "utter_handoff_wait": "You are number {queue_position} in the queue; the expected wait is about "
                          "{wait_minutes} minute(s).",
}

CSAT_BUTTONS = tuple({"title": str(n), "payload": f'/csat{{"score": {n}}}'} for n in range(1, 6))


def notice(project: Project, response: str, channel: str | None, *, buttons: tuple[dict[str, Any], ...] = (),
           slots: dict[str, Any] | None = None, **values: Any) -> BotUttered:
    """The bot event for notice ``response`` on ``channel``; ``{placeholders}`` come from ``values``, then ``slots``."""
    variant = project.response(response, channel)
    text = variant.text if variant is not None else DEFAULTS.get(response, "")
    if variant is not None and variant.buttons and not buttons:
        buttons = tuple({"title": b.title, "payload": b.payload} for b in variant.buttons)
    return BotUttered(text=fill(text, {**(slots or {}), **values}), response=response, buttons=buttons)
