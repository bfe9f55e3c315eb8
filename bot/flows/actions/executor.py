"""Run business actions: in-process through rasa-sdk's ``ActionExecutor``, or on a Rasa action server.

Both speak the same payload (Rasa's action-server protocol): ``{"next_action", "sender_id",
"tracker", "domain", "version"}`` in, ``{"events", "responses"}`` out, so an action behaves the same
wherever it runs. :func:`tracker_payload` builds the tracker JSON from the derived conversation state.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor

from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.kernel.events import SlotSet, UserUttered
from bot.pipeline.turn import Turn
from bot.project import Project

log = get_logger(__name__)

RASA_VERSION = "3.1.0"


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an action returned: Rasa events (``{"event": "slot", ...}``) and dispatcher responses."""

    events: list[dict[str, Any]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


TRACKER_USER_EVENTS = 20
"""Earlier customer messages an action's tracker carries (the latest one comes on top)."""


def tracker_payload(turn: Turn) -> dict[str, Any]:
    """The Rasa tracker JSON an action sees (slots, latest message, channel)."""
    latest = turn.state.latest_user
    message: dict[str, Any] = {"text": turn.text, "intent": {}, "entities": [], "metadata": {}}
    if latest is not None:
        message = {
            "text": turn.text,
            "intent": {"name": latest.intent, "confidence": latest.confidence},
            "entities": [dict(e) for e in latest.entities],
            "intent_ranking": [dict(r) for r in latest.ranking],
            "metadata": dict(latest.metadata),
            # What the server knows about the message (never the client's metadata): the pseudonymous client
            # source and the message id. In-process actions read it as ``tracker.latest_message["careline"]``.
            "careline": {"client": latest.client, "message_id": latest.message_id, "turn": turn.state.turns},
        }
    # Earlier customer messages, as Rasa's tracker carries them (an action may read what was said before:
    # "any news on my sofa?" picks the order with the sofa), then the latest one.
    earlier = [e for e in turn.state.events if isinstance(e, UserUttered) and e is not latest][-TRACKER_USER_EVENTS:]
    events: list[dict[str, Any]] = [{"event": "user", "timestamp": e.timestamp, "text": e.text,
                                     "input_channel": turn.channel} for e in earlier]
    if latest is not None:
        events.append({"event": "user", "timestamp": latest.timestamp, "text": turn.text,
                       "input_channel": turn.channel, "parse_data": message})
    return {
        "sender_id": turn.conversation_id,
        "slots": dict(turn.state.slots),
        "latest_message": message,
        "latest_event_time": latest.timestamp if isinstance(latest, UserUttered) else None,
        "followup_action": None,
        "paused": False,
        "events": events,
        "latest_input_channel": turn.channel,
        "active_loop": {},
        "latest_action": {},
        "latest_action_name": None,
    }


def domain_payload(project: Project) -> dict[str, Any]:
    """The domain as Rasa sends it to action servers (responses, slots, actions)."""
    return project.domain.model_dump(mode="json", exclude_none=True)


def action_call(name: str, turn: Turn) -> dict[str, Any]:
    """The action-server request body for running ``name`` in ``turn``."""
    return {"next_action": name, "sender_id": turn.conversation_id, "tracker": tracker_payload(turn),
            "domain": domain_payload(turn.project), "version": RASA_VERSION}


class Executor(abc.ABC):
    """Runs a named business action for a turn."""

    @abc.abstractmethod
    async def run(self, name: str, turn: Turn) -> ActionResult:
        """Run ``name``; raises :class:`~bot.kernel.errors.ProviderError` when it cannot."""

    def knows(self, name: str) -> bool:
        """Whether ``name`` can be run (remote executors assume yes)."""
        return True

    async def close(self) -> None:
        """Release connections."""


class InProcessExecutor(Executor):
    """Runs rasa-sdk actions in this process (the default)."""

    def __init__(self, actions: Iterable[Action]) -> None:
        self._executor = ActionExecutor()
        for action in actions:
            self._executor.register_action(action)

    def knows(self, name: str) -> bool:
        return name in self._executor.actions

    async def run(self, name: str, turn: Turn) -> ActionResult:
        if not self.knows(name):
            raise ProviderError(f"no action named {name!r} is registered", provider="actions", permanent=True)
        result = await self._executor.run(action_call(name, turn))
        if result is None:
            return ActionResult()
        return ActionResult(list(result.events), list(result.responses))


class HttpExecutor(Executor):
    """Runs actions on a Rasa action server (``action_endpoint: http://host:5055/webhook``)."""

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def run(self, name: str, turn: Turn) -> ActionResult:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(self.url, json=action_call(name, turn)) as response:
                body = await response.json(content_type=None)
                if response.status >= 400:
                    raise ProviderError(f"action server answered {response.status} for {name}: {body}",
                                        provider="action_server", permanent=response.status < 500)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderError(f"action server call for {name} failed: {exc!r}", provider="action_server") from exc
        return ActionResult(list(body.get("events") or []), list(body.get("responses") or []))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def slot_events(result: ActionResult) -> list[SlotSet]:
    """The ``slot`` events of an action result as Careline events (other kinds are logged and skipped)."""
    out = []
    for event in result.events:
        if event.get("event") == "slot":
            out.append(SlotSet(name=str(event["name"]), value=event.get("value")))
        else:
            log.info("action_event_ignored", kind=event.get("event"))
    return out
