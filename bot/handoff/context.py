"""The context package agents (and helpdesks) receive on escalation — schema version 2.

Built from the conversation's events only, so it can be rebuilt at any time (the agent view rebuilds
it live; the copy inside the ``Escalated`` event is what was known at escalation). The JSON schema is
``bot/handoff/context.schema.json`` (``careline handoff schema`` prints it); its keys:

``schema_version``, ``conversation_id``, ``channel``, ``created_at``,
``customer`` {id, verified, proofs}, ``reason``, ``team``, ``priority``,
``signals`` [{detector, category, score, evidence}],
``intents`` [{intent, confidence, at}], ``slots`` (``sensitive`` ones masked unless the viewer may see them),
``flows`` {active, started, completed, cancelled}, ``documents`` [{doc_id, title, heading, url, query, answered}],
``attempted_answers`` [{text, response, citations, failed, at}], ``sentiment`` {trend, latest, scores},
``transcript`` [{from: customer|bot|agent, text, at, voice?, for_agent?, interrupted?, agent?}],
``summary`` and ``summary_source`` (``extractive`` or ``llm``),
``history`` [{conversation_id, channel, started_at, last_at, reason, outcome, csat, open_handoff, status,
current}]: the verified customer's conversations on any channel, this one marked ``current``
(:mod:`bot.customers.timeline`; empty for an unverified customer). Version 2 added ``history`` as a required key.

Customer texts, slots and signals are masked for agents by :class:`bot.handoff.privacy.Redactor`
(verification answers read ``[date of birth]``; ``customer.proofs`` lists the kinds of detail given).

Adding optional keys keeps the version; adding a required one, removing or changing the meaning of one bumps it.
"""

from __future__ import annotations

import json
import time
from functools import cache
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from bot.handoff.privacy import MASK, Redactor
from bot.handoff.sentiment import sentiment_trend
from bot.kernel.conversation import ConversationState
from bot.kernel.events import (
    AgentMessage,
    BotUttered,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    KnowledgeConsulted,
    UserUttered,
)
from bot.project import Project

SCHEMA_VERSION = 2
SCHEMA_PATH = Path(__file__).with_name("context.schema.json")
#: Bot responses that mean the bot did not manage to answer.
FAILED_RESPONSES = frozenset({"utter_default", "utter_dont_know", "utter_blocked", "utter_verify_first"})
#: Bot responses that are notices about the handoff itself, not attempts to answer.
NOTICE_PREFIXES = ("utter_handoff", "utter_agent", "utter_returned", "utter_resume", "utter_csat",
                   "utter_transferred", "utter_slow_down", "utter_offer_human")


@cache
def context_schema() -> dict[str, Any]:
    """The JSON schema (draft 2020-12) of the context package."""
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
    return schema


def mask_slots(slots: dict[str, Any], project: Project, *, reveal: bool = False) -> dict[str, Any]:
    """Slots with the domain's ``sensitive`` ones replaced by ``"***"`` (unless ``reveal``)."""
    out = {}
    for name, value in slots.items():
        spec = project.domain.slots.get(name)
        hidden = not reveal and spec is not None and spec.sensitive and value is not None
        out[name] = MASK if hidden else value
    return out


def transcript(state: ConversationState, redactor: Redactor) -> list[dict[str, Any]]:
    """Who said what, when: voice turns, messages written for the agent and interrupted bot speech marked."""
    lines: list[dict[str, Any]] = []
    for event in state.events:
        if isinstance(event, UserUttered):
            lines.append({"from": "customer", "text": redactor.user_text(event), "at": event.timestamp,
                          "voice": event.channel == "voice", "for_agent": event.for_agent})
        elif isinstance(event, BotUttered):
            lines.append({"from": "bot", "text": redactor.scrub(event.text), "at": event.timestamp,
                          "interrupted": event.interrupted})
        elif isinstance(event, AgentMessage):
            lines.append({"from": "agent", "agent": event.agent, "text": event.text, "at": event.timestamp})
    return lines


def attempted_answers(state: ConversationState, redactor: Redactor) -> list[dict[str, Any]]:
    """The bot's answers to the customer (handoff notices left out); ``failed`` marks "didn't get that"."""
    out = []
    for event in state.events:
        if not isinstance(event, BotUttered) or (event.response or "").startswith(NOTICE_PREFIXES):
            continue
        out.append({"text": redactor.scrub(event.text), "response": event.response, "citations": list(event.citations),
                    "failed": event.response in FAILED_RESPONSES, "at": event.timestamp})
    return out


def documents(state: ConversationState, redactor: Redactor) -> list[dict[str, Any]]:
    """Knowledge documents consulted, once each, with the question that found them."""
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for event in state.events:
        if isinstance(event, KnowledgeConsulted):
            for doc in event.documents:
                key = (doc.get("doc_id"), doc.get("heading"))
                seen.setdefault(key, {**doc, "query": redactor.free(event.query), "answered": event.answered})
    return list(seen.values())


def summarize(state: ConversationState, redactor: Redactor) -> str:
    """An extractive summary: intents seen, flows touched, failed answers and the customer's last words
    (masked like the transcript)."""
    users = [e for e in state.events if isinstance(e, UserUttered)]
    intents = list(dict.fromkeys(e.intent for e in users if e.intent and e.intent != "out_of_scope"))
    flows = list(dict.fromkeys(e.flow_id for e in state.events if isinstance(e, FlowStarted)))
    failed = sum(1 for a in attempted_answers(state, redactor) if a["failed"])
    last = " / ".join(redactor.user_text(e) for e in users[-3:])
    parts = []
    if intents:
        parts.append(f"Customer intents: {', '.join(intents)}.")
    if flows:
        parts.append(f"Flows: {', '.join(flows)}.")
    if failed:
        parts.append(f"The bot could not answer {failed} time(s).")
    if last:
        parts.append(f"Last messages: {last}")
    return " ".join(parts) or "No customer messages yet."


class ContextPackage(TypedDict):
    """What an agent receives at a handoff (``schema_version`` 2): JSON-able, stored in the ``Escalated`` event,
    sent to helpdesks; masked for agents unless built with ``reveal_sensitive``."""

    schema_version: int
    conversation_id: str
    channel: str
    created_at: float
    customer: dict[str, Any]
    """``id``, ``verified``, ``proofs`` (which identity proofs were given, values masked)."""
    reason: str
    """The escalation reason (``bot.pipeline.turn.PRIORITY`` lists them)."""
    team: str | None
    priority: int
    signals: list[dict[str, Any]]
    """The guardrail signals behind the escalation (detector, category, score, masked evidence)."""
    intents: list[dict[str, Any]]
    slots: dict[str, Any]
    flows: dict[str, list[str]]
    """``active``, ``started``, ``completed``, ``cancelled`` flow ids."""
    documents: list[dict[str, Any]]
    attempted_answers: list[dict[str, Any]]
    sentiment: dict[str, Any]
    transcript: list[dict[str, Any]]
    summary: str
    summary_source: str
    """``extractive`` or ``llm``."""
    history: list[dict[str, Any]]
    """The verified customer's conversations (filled by the handoff desk; empty when unverified)."""
    transfer: NotRequired[dict[str, Any]]
    """Set when an agent transferred the conversation: ``from_agent``, ``from_team``, ``note``."""


def build_context(
    state: ConversationState,
    project: Project,
    *,
    reason: str,
    signals: tuple[dict[str, Any], ...],
    channel: str,
    team: str | None = None,
    priority: int = 0,
    reveal_sensitive: bool = False,
) -> ContextPackage:
    """The context package for ``state`` (a JSON-able dict, ``schema_version`` 2; ``history`` empty until the desk
    fills it), masked for agents unless
    ``reveal_sensitive``."""
    redactor = Redactor(state.events, project, reveal=reveal_sensitive)
    users = [e for e in state.events if isinstance(e, UserUttered)]
    started = [e.flow_id for e in state.events if isinstance(e, FlowStarted)]
    completed = [e.flow_id for e in state.events if isinstance(e, FlowCompleted)]
    cancelled = [e.flow_id for e in state.events if isinstance(e, FlowCancelled)]
    return {
        "schema_version": SCHEMA_VERSION,
        "conversation_id": state.conversation_id,
        "channel": channel,
        "created_at": time.time(),
        "customer": {
            "id": state.slots.get("customer_id"),
            "verified": bool(state.slots.get("authenticated")),
            "proofs": redactor.proofs,
        },
        "reason": reason,
        "team": team,
        "priority": priority,
        "signals": list(redactor.signals(signals)),
        "intents": [{"intent": e.intent, "confidence": e.confidence, "at": e.timestamp} for e in users if e.intent],
        "slots": mask_slots(state.slots, project, reveal=reveal_sensitive),
        "flows": {"active": [f.flow_id for f in state.flow_stack], "started": started, "completed": completed,
                  "cancelled": cancelled},
        "documents": documents(state, redactor),
        "attempted_answers": attempted_answers(state, redactor),
        "sentiment": sentiment_trend(state.events).to_dict(),
        "transcript": transcript(state, redactor),
        "summary": summarize(state, redactor),
        "summary_source": "extractive",
        "history": [],
    }
