"""The customer timeline: the verified customer's conversations across channels, for agents.

One entry per linked conversation, newest first: ``conversation_id``, ``channel``, ``started_at``, ``last_at``,
``reason`` (what the customer came for: the first intent that started a flow, else the first understood intent,
else the escalation reason), ``outcome``, ``csat`` (the latest rating or ``None``), ``open_handoff`` (waiting for
or with an agent now) and ``status``. Outcomes: ``handoff_open``, ``open`` (a flow waits for the customer),
``resumed_elsewhere``, ``handed_off``, ``completed`` (a flow ran to its end), ``closed``, ``no_outcome``.

Only conversations the customer *verified* in are listed (:class:`~bot.customers.store.CustomerStore`), and
no words are: agents open a conversation for its transcript, with the usual masking and audit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bot.customers.matters import RESUMED_ELSEWHERE, open_matter
from bot.customers.store import CustomerStore
from bot.flows.schema import AUTH_FLOW
from bot.kernel.conversation import ConversationState, Status
from bot.kernel.events import CsatGiven, Escalated, FlowCancelled, FlowCompleted, FlowStarted, UserUttered
from bot.project import Project
from bot.storage import ConversationStore

#: Intents that say nothing about why the customer came.
_NO_REASON = frozenset({"greet", "goodbye", "thank", "inform", "affirm", "deny", "out_of_scope", "help", "cancel"})


def reason_of(state: ConversationState) -> str | None:
    """What the customer came for (see the module docstring)."""
    started = next((e.flow_id for e in state.events if isinstance(e, FlowStarted) and e.flow_id != AUTH_FLOW), None)
    if started is not None:
        return started
    intent = next((e.intent for e in state.events if isinstance(e, UserUttered) and e.intent
                   and e.intent not in _NO_REASON), None)
    if intent is not None:
        return intent
    escalated = next((e for e in state.events if isinstance(e, Escalated)), None)
    return escalated.reason if escalated is not None else None


def outcome_of(state: ConversationState, project: Project) -> str:
    """How the conversation stands or ended (see the module docstring)."""
    if state.status in (Status.HANDOFF, Status.AGENT):
        return "handoff_open"
    if open_matter(state, project.flows) is not None:
        return "open"
    if any(isinstance(e, FlowCancelled) and e.reason == RESUMED_ELSEWHERE for e in state.events):
        return "resumed_elsewhere"
    if any(isinstance(e, Escalated) for e in state.events):
        return "handed_off"
    if any(isinstance(e, FlowCompleted) and e.flow_id != AUTH_FLOW for e in state.events):
        return "completed"
    return "closed" if state.status is Status.CLOSED else "no_outcome"


def entry(state: ConversationState, project: Project, channel: str | None) -> dict[str, Any]:
    """One timeline entry for ``state``."""
    ratings = [e.score for e in state.events if isinstance(e, CsatGiven)]
    users = [e for e in state.events if isinstance(e, UserUttered)]
    return {
        "conversation_id": state.conversation_id,
        "channel": channel or (users[0].channel if users else None),
        "started_at": state.events[0].timestamp if state.events else None,
        "last_at": state.events[-1].timestamp if state.events else None,
        "reason": reason_of(state),
        "outcome": outcome_of(state, project),
        "csat": ratings[-1] if ratings else None,
        "open_handoff": state.status in (Status.HANDOFF, Status.AGENT),
        "status": str(state.status),
    }


class Timeline:
    """Timelines from the customer records and the conversation store."""

    def __init__(self, customers: CustomerStore, conversations: ConversationStore, project: Project,
                 *, limit: int = 50, qa_flags: Callable[[str], Awaitable[list[str]]] | None = None) -> None:
        self.customers = customers
        self.conversations = conversations
        self.project = project
        self.limit = limit
        self.qa_flags = qa_flags
        """The criteria a conversation failed in QA (``qa_flags`` of each entry), when QA is set up."""

    async def of_customer(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's verified conversations, newest activity first."""
        entries = []
        for link in await self.customers.links(customer_id, limit=self.limit):
            state = await self.conversations.load(link.conversation_id)
            if state.events:
                flags = await self.qa_flags(link.conversation_id) if self.qa_flags is not None else []
                entries.append({**entry(state, self.project, link.channel), "qa_flags": flags})
        entries.sort(key=lambda e: e["last_at"] or 0.0, reverse=True)
        return entries

    async def history(self, customer_id: str | None, conversation_id: str) -> list[dict[str, Any]]:
        """The handoff context's ``history``: the customer's verified conversations, this one marked
        ``current`` (empty when the customer is not verified)."""
        if not customer_id:
            return []
        return [{**e, "current": e["conversation_id"] == conversation_id} for e in await self.of_customer(customer_id)]
