"""Filling slots from what the customer said: Rasa slot mappings, button choices and responses.

A slot is filled only by a ``collect`` step of an active flow (or pre-filled from the message that
starts the flow): nothing the customer sends can set ``authenticated``, ``customer_id`` or any other
slot no flow collects, payloads included.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

from bot.flows.schema import AUTH_FLOW
from bot.kernel.events import ConversationEnded, FlowCancelled, FlowCompleted, FlowStarted, UserUttered
from bot.kernel.messages import BotMessage, Button
from bot.nlu.acts import chosen_button
from bot.nlu.base import Understanding
from bot.nlu.payload import parse_payload
from bot.pipeline.turn import Turn
from bot.project.patterns import COMPLETED_RESPONSE, PATTERN_OF_RESPONSE
from bot.project.schema import SlotSpec

TRUE_WORDS = {"true", "yes", "y", "1"}
FALSE_WORDS = {"false", "no", "n", "0"}


@dataclass(frozen=True, slots=True)
class Found:
    """A value for a slot and where it came from: ``payload``, ``entity``, ``intent`` or ``text``."""

    value: Any
    source: str


def mappings_of(name: str, spec: SlotSpec) -> list[dict[str, Any]]:
    """The slot's mappings; defaults: bool ← yes/no, others ← the same-named entity, then the text. Rasa's
    ``from_llm`` reads as the defaults: a configured command generator's slot values arrive as entities named
    after the slot, and without one the message itself answers the question."""
    if spec.mappings and not any(m.get("type") == "from_llm" for m in spec.mappings):
        return list(spec.mappings)
    if spec.mappings:
        kept = [m for m in spec.mappings if m.get("type") != "from_llm"]
        return kept + [m for m in _default_mappings(name, spec) if m not in kept]
    return _default_mappings(name, spec)


def _default_mappings(name: str, spec: SlotSpec) -> list[dict[str, Any]]:
    if spec.type == "bool":
        return [{"type": "from_entity", "entity": "yes_no"}, {"type": "from_intent", "intent": "affirm", "value": True},
                {"type": "from_intent", "intent": "deny", "value": False}]
    return [{"type": "from_entity", "entity": name}, {"type": "from_text"}]


UNRECALLED = frozenset({"date", "datetime", "yes_no", "ordinal", "pin"})
"""Entities never carried to a later question: a date or a yes answers the question it was said to, and a PIN
is a secret given when asked."""


def recall(turn: Turn, name: str) -> Any:
    """The value of slot ``name`` the customer already said earlier in the conversation, most recent first: an
    entity its ``from_entity`` mappings read ("where is A1002?", or A1002 given as the identifier, fills the
    order number once the order flow asks for it), said since the last finished task (verification aside);
    ``None`` when nothing fits."""
    spec = turn.project.domain.slots.get(name)
    if spec is None:
        return None
    wanted = [str(m.get("entity", name)) for m in mappings_of(name, spec) if m.get("type") == "from_entity"]
    wanted = [w for w in wanted if w not in UNRECALLED]
    if not wanted:
        return None
    current = True
    for event in reversed(turn.state.events):
        if isinstance(event, ConversationEnded):
            return None
        if isinstance(event, FlowCompleted | FlowCancelled) and event.flow_id != AUTH_FLOW:
            return None  # what was said for a finished task is not assumed for the next one
        if not isinstance(event, UserUttered) or event.for_agent:
            continue
        if current:  # this turn's own message: the flow's start already read it
            current = False
            continue
        for entity in event.entities:
            if entity.get("entity") in wanted:
                value = _coerce(entity.get("value"), spec)
                if value is not None:
                    return value
    return None


def _coerce(value: Any, spec: SlotSpec) -> Any:
    if spec.type == "bool" and not isinstance(value, bool):
        word = str(value).strip().lower()
        return True if word in TRUE_WORDS else False if word in FALSE_WORDS else None
    if spec.type == "categorical" and spec.values:
        said = str(value).strip().lower()
        exact = next((v for v in spec.values if v.lower() == said), None)
        named = [v for v in spec.values if re.search(rf"\b{re.escape(v.lower())}\b", said)]
        return exact if exact is not None else named[0] if len(named) == 1 else None
    if spec.type == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if isinstance(value, str):
        return value.strip() or None
    return value


def extract(turn: Turn, name: str, *, allow_text: bool = True) -> Found | None:
    """A value for slot ``name`` from this turn's understanding, or ``None``."""
    spec = turn.project.domain.slots.get(name)
    understanding = turn.understanding
    if spec is None or understanding is None:
        return None
    for entity in understanding.entities:
        if entity.extractor == "payload" and entity.entity == name:
            value = _coerce(entity.value, spec)
            if value is not None:
                return Found(value, "payload")
    for mapping in mappings_of(name, spec):
        kind = mapping.get("type")
        if mapping.get("intent") and kind != "from_intent" and understanding.intent not in _names(mapping["intent"]):
            continue
        if understanding.intent in _names(mapping.get("not_intent")):
            continue
        candidate: Any = None
        if kind == "from_entity":
            match = understanding.entity(str(mapping.get("entity", name)))
            candidate, source = (match.value if match else None), "entity"
        elif kind == "from_intent" and understanding.intent in _names(mapping.get("intent")):
            candidate, source = mapping.get("value"), "intent"
        elif kind == "from_text" and allow_text and not turn.text.startswith("/"):
            candidate, source = turn.text, "text"
        value = _coerce(candidate, spec) if candidate is not None else None
        if value is not None:
            return Found(value, source)
    return None


def _names(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def choose_button(turn: Turn) -> Understanding | None:
    """The button the customer meant: a date/time equal to its value, else "the second one", "the lamp one",
    its title or "yes" to a yes button (:func:`bot.nlu.acts.chosen_button`, as for any other offer)."""
    understanding = turn.understanding
    buttons = turn.shown_buttons()
    if understanding is None or not buttons or turn.text.startswith("/"):
        return None
    when = understanding.entity("datetime")
    chosen = next((b for b in buttons if str(when.value) in b["payload"]), None) if when is not None else None
    if chosen is None:
        chosen = chosen_button(turn.text, buttons)
    if chosen is None:
        return None
    parsed = parse_payload(chosen["payload"])
    if parsed is None:
        return None
    return Understanding(parsed.intent, 1.0, parsed.ranking, parsed.entities + understanding.entities)


def render(turn: Turn, name: str, *, values: dict[str, Any] | None = None,
           buttons: list[dict[str, Any]] | None = None, custom: dict[str, Any] | None = None,
           default: str | None = None) -> BotMessage:
    """:meth:`Turn.render <bot.pipeline.turn.Turn.render>`'s message for ``name`` (account data marked the same way),
    with ``buttons`` in place of the response's own and ``custom`` added to its payload."""
    message = turn.render(turn.project.response_name(name), default=default, values=values)
    chosen = tuple(Button(str(b["title"]), str(b["payload"])) for b in buttons) if buttons else message.buttons
    return dataclasses.replace(message, buttons=chosen, custom={**(custom or {}), **message.custom})


def utter(turn: Turn, name: str, **kwargs: Any) -> None:
    """Send :func:`render`'s message (in a Rasa project, a default pattern's message inside that pattern's flow
    events: :mod:`bot.project.patterns`)."""
    message = render(turn, name, **kwargs)
    pattern = PATTERN_OF_RESPONSE.get(message.response or "") if turn.project.rasa_patterns else None
    if pattern is not None:
        turn.emit(FlowStarted(flow_id=pattern))
    turn.reply(message)
    if pattern is not None:
        turn.emit(FlowCompleted(flow_id=pattern))


def complete(turn: Turn) -> None:
    """Rasa's ``pattern_completed``: in a Rasa project, once no flow is left on the stack, offer more help."""
    flows = turn.project.flows
    if turn.project.rasa_patterns and not any(f.flow_id in flows for f in turn.state.flow_stack):
        utter(turn, COMPLETED_RESPONSE, default="What else can I help you with?")


def dispatch(turn: Turn, responses: list[dict[str, Any]]) -> None:
    """Send an action's dispatcher messages (``response`` names are rendered from the domain)."""
    reserved = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}
    for message in responses:
        values = {k: v for k, v in message.items() if k not in reserved}
        custom = message.get("custom") or {}
        if message.get("response"):
            utter(turn, str(message["response"]), values=values, buttons=message.get("buttons") or None,
                  custom=custom)
        elif message.get("text"):
            buttons = tuple(Button(str(b["title"]), str(b["payload"])) for b in message.get("buttons") or [])
            turn.reply(BotMessage(str(message["text"]), buttons, custom=custom))
