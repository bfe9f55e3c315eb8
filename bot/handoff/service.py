"""Agent actions on handed-off conversations: claim, reply, note, transfer, return to bot, close.

Every action checks the conversation's status and appends its events under the conversation's lock
(so two agents claiming at once cannot both win), publishes them on the engine's bus (the widget and
the agent console listen there) and is audited, as is every view of the queue or a context.

Agents only see what is theirs (:mod:`bot.handoff.privacy`): the queue lists waiting conversations and
the agent's own claimed ones (admins see every claimed one), a context is refused for a conversation
another agent owns (403) or one that is back with the bot (404, admins excepted), and everything shown is
masked.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.flows.progress import waiting_step
from bot.handoff.audit import AuditLog
from bot.handoff.config import HandoffConfig
from bot.handoff.context import ContextPackage, build_context
from bot.handoff.errors import HandoffRefused, NotYourConversation, UnknownConversation, UnknownTeam
from bot.handoff.notices import CSAT_BUTTONS, notice
from bot.handoff.privacy import PRIVILEGED_ROLES, Redactor, may_see
from bot.handoff.queue import HandoffQueue, Position
from bot.handoff.summary import LLMSummarizer
from bot.infra.logs import get_logger
from bot.infra.settings import Principal
from bot.kernel.conversation import ConversationState, Status
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    AgentNote,
    ConversationEnded,
    Escalated,
    Event,
    ReturnedToBot,
    UserUttered,
)
from bot.pipeline.engine import Engine
from bot.pipeline.stages import Stage
from bot.project import Project
from bot.storage import Database

log = get_logger(__name__)

MAX_TEXT = 4000
ACTIVE = (Status.HANDOFF, Status.AGENT)


def channel_of(state: ConversationState) -> str:
    """The channel the customer last wrote on."""
    user = next((e for e in reversed(state.events) if isinstance(e, UserUttered)), None)
    return user.channel if user is not None else "rest"


def check_text(text: object, what: str = "text") -> str:
    """``text`` as a non-empty string of at most :data:`MAX_TEXT` characters, else a 400 naming it."""
    from bot.kernel.errors import RequestError

    if not isinstance(text, str) or not text.strip():
        raise RequestError(f"'{what}' must be a non-empty string, got {text!r:.40}")
    if len(text) > MAX_TEXT:
        raise RequestError(f"'{what}' is {len(text)} characters; the limit is {MAX_TEXT}")
    return text.strip()


#: ``(customer_id, conversation_id) -> entries``: the customer's other conversations (``[]`` for ``None``).
History = Callable[[str | None, str], Awaitable[list[dict[str, Any]]]]


async def fill_history(context: ContextPackage, history: History | None) -> None:
    """Set ``context["history"]`` for a verified customer (left empty otherwise)."""
    customer = context.get("customer") or {}
    if history is not None and customer.get("verified") and customer.get("id"):
        context["history"] = await history(str(customer["id"]), context["conversation_id"])


class HandoffDesk:
    """The handoff side of an escalation (the ``Escalate`` stage's ``EscalationDesk``): the summary and the
    customer's queue position."""

    def __init__(self, queue: HandoffQueue, audit: AuditLog, summarizer: LLMSummarizer | None = None,
                 history: History | None = None) -> None:
        self.queue = queue
        self.audit = audit
        self.summarizer = summarizer
        self.history = history
        """The verified customer's other conversations (:meth:`bot.customers.timeline.Timeline.history`)."""

    async def complete(self, context: ContextPackage) -> ContextPackage:
        """The context with the customer's ``history`` (when verified) and an LLM summary when a model is
        configured."""
        await fill_history(context, self.history)
        return context if self.summarizer is None else await self.summarizer.complete(context)

    async def position(self, team: str | None, priority: int) -> Position:
        """Where a conversation escalated now would stand in ``team``'s queue."""
        return await self.queue.position(team=team, priority=priority,
                                         expected_wait=await self.audit.expected_wait(team))


@dataclass(frozen=True, slots=True)
class AgentActionResult:
    """The conversation after an action and the events the action appended."""

    state: ConversationState
    events: tuple[Event, ...]


class HandoffService:
    """Queue views and agent actions for one project's conversations."""

    def __init__(self, engine: Engine, database: Database, config: HandoffConfig,
                 history: History | None = None) -> None:
        self.engine = engine
        self.config = config
        self.history = history
        """The verified customer's other conversations, shown live in :meth:`view` (the agent's timeline)."""
        self.queue = HandoffQueue(database)
        self.audit = AuditLog(database)

    async def setup(self) -> None:
        """Create the audit table."""
        await self.audit.setup()

    # views -----------------------------------------------------------------------------------------

    async def list_queue(self, principal: Principal, *, team: str | None = None) -> list[dict[str, Any]]:
        """Waiting conversations and those claimed by ``principal`` (every claimed one for admins; audited)."""
        entries = [e for e in await self.queue.entries(team=team) if may_see(principal, e.status, e.agent)]
        await self.audit.record(principal, "view_queue", team=team, count=len(entries))
        now = time.time()
        return [e.to_dict(now) for e in entries]

    async def view(self, principal: Principal, conversation_id: str) -> dict[str, Any]:
        """The live context package of a conversation in the queue or assigned to ``principal`` (audited)."""
        state = await self.engine.state(conversation_id)
        escalation = self._escalation(state, conversation_id)
        self._require_visible(state, conversation_id, principal)
        project = self.engine.project
        context = build_context(
            state, project, reason=escalation.reason, signals=escalation.signals, channel=channel_of(state),
            team=escalation.team, priority=escalation.priority, reveal_sensitive=self.reveals_to(principal),
        )
        at_escalation = escalation.context
        if at_escalation.get("summary"):
            context["summary"] = self.redactor(principal, state).free(str(at_escalation["summary"]))
            context["summary_source"] = at_escalation.get("summary_source", "extractive")
        if "transfer" in at_escalation:
            context["transfer"] = at_escalation["transfer"]
        await fill_history(context, self.history)
        await self.audit.record(principal, "view_context", conversation_id, team=escalation.team)
        return {
            "conversation_id": conversation_id,
            "status": str(state.status),
            "agent": state.agent,
            "escalated_at": escalation.timestamp,
            "notes": [{"agent": e.agent, "text": e.text, "at": e.timestamp}
                      for e in state.events if isinstance(e, AgentNote)],
            "teams": self.config.all_teams,
            "context": context,
        }

    # actions ---------------------------------------------------------------------------------------

    async def claim(self, principal: Principal, conversation_id: str) -> AgentActionResult:
        """Take a waiting conversation; the customer is told who joined. Claiming one's own again is a no-op."""
        waited: list[float] = []

        def build(state: ConversationState) -> list[Event]:
            escalation = self._escalation(state, conversation_id)
            if state.status is Status.AGENT and state.agent == principal.name:
                return []
            if state.status is Status.AGENT:
                raise HandoffRefused(f"conversation {conversation_id!r} was already claimed by {state.agent}")
            self._require(state, conversation_id, (Status.HANDOFF,), "claim")
            waited.append(time.time() - self._waiting_since(state, escalation))
            return [AgentJoined(agent=principal.name, display_name=principal.name),
                    notice(self.engine.project, "utter_agent_joined", channel_of(state),
                           agent_name=principal.name.capitalize())]

        outcome = await self._apply(conversation_id, build)
        if outcome.events:
            team = outcome.state.escalation.team if outcome.state.escalation else None
            await self.audit.record(principal, "claim", conversation_id, team=team, waited=waited[0])
            log.info("handoff_claimed", conversation_id=conversation_id, agent=principal.name, waited=waited[0])
        return outcome

    async def send(self, principal: Principal, conversation_id: str, text: object) -> AgentActionResult:
        """The owning agent writes to the customer."""
        text = check_text(text)

        def build(state: ConversationState) -> list[Event]:
            self._escalation(state, conversation_id)
            self._require_owner(state, conversation_id, principal, "write to the customer")
            return [AgentMessage(agent=principal.name, text=text, display_name=principal.name.capitalize())]

        outcome = await self._apply(conversation_id, build)
        await self.audit.record(principal, "message", conversation_id, chars=len(text))
        return outcome

    async def note(self, principal: Principal, conversation_id: str, text: object) -> AgentActionResult:
        """An internal note, never shown to the customer; any agent who may see the conversation may add one."""
        text = check_text(text)

        def build(state: ConversationState) -> list[Event]:
            self._escalation(state, conversation_id)
            self._require(state, conversation_id, ACTIVE, "add a note")
            self._require_visible(state, conversation_id, principal)
            return [AgentNote(agent=principal.name, text=text)]

        outcome = await self._apply(conversation_id, build)
        await self.audit.record(principal, "note", conversation_id, chars=len(text))
        return outcome

    async def transfer(self, principal: Principal, conversation_id: str, team: object,
                       note: object = None) -> AgentActionResult:
        """Put the conversation back in the queue for ``team`` (keeping its wait time and reason)."""
        if not isinstance(team, str) or team not in self.config.all_teams:
            raise UnknownTeam(f"unknown team {team!r}; known teams: {', '.join(self.config.all_teams)}")
        note_text = check_text(note, "note") if note is not None else None

        def build(state: ConversationState) -> list[Event]:
            escalation = self._escalation(state, conversation_id)
            self._require(state, conversation_id, ACTIVE, "transfer")
            if state.status is Status.AGENT:
                self._require_owner(state, conversation_id, principal, "transfer")
            if team == escalation.team:
                raise HandoffRefused(f"conversation {conversation_id!r} is already with team {team!r}")
            channel = channel_of(state)
            context = build_context(state, self.engine.project, reason=escalation.reason,
                                    signals=escalation.signals, channel=channel, team=team,
                                    priority=escalation.priority)
            context["summary"] = escalation.context.get("summary", context["summary"])
            context["summary_source"] = escalation.context.get("summary_source", "extractive")
            context["transfer"] = {"from_agent": principal.name, "from_team": escalation.team, "note": note_text}
            events: list[Event] = []
            if note_text:
                events.append(AgentNote(agent=principal.name, text=f"Transferred to {team}: {note_text}"))
            events.append(Escalated(reason=escalation.reason, team=team, priority=escalation.priority,
                                    signals=escalation.signals, context=dict(context)))
            events.append(notice(self.engine.project, "utter_transferred", channel, team=team))
            return events

        outcome = await self._apply(conversation_id, build)
        await self.audit.record(principal, "transfer", conversation_id, team=team, note=bool(note_text))
        log.info("handoff_transferred", conversation_id=conversation_id, agent=principal.name, team=team)
        return outcome

    async def return_to_bot(self, principal: Principal, conversation_id: str) -> AgentActionResult:
        """Hand the conversation back; the bot resumes the interrupted flow (re-asking its open question)."""

        def build(state: ConversationState) -> list[Event]:
            self._escalation(state, conversation_id)
            self._require(state, conversation_id, ACTIVE, "return to the bot")
            if state.status is Status.AGENT:
                self._require_owner(state, conversation_id, principal, "return to the bot")
            channel = channel_of(state)
            events: list[Event] = [ReturnedToBot(agent=principal.name)]
            question = self._open_question(state)
            if question is None:
                events.append(notice(self.engine.project, "utter_returned_to_bot", channel))
            else:
                events.append(notice(self.engine.project, "utter_resume_flow", channel))
                events.append(notice(self.engine.project, question, channel, slots=state.slots))
            return events

        outcome = await self._apply(conversation_id, build)
        await self.audit.record(principal, "return_to_bot", conversation_id,
                                resumed_flow=outcome.state.active_flow)
        log.info("handoff_returned_to_bot", conversation_id=conversation_id, agent=principal.name,
                 resumed_flow=outcome.state.active_flow)
        return outcome

    async def close(self, principal: Principal, conversation_id: str, *, csat: bool | None = None) -> AgentActionResult:
        """End the conversation; with CSAT on (config, or ``csat`` here) the customer is asked for a 1-5 rating."""
        ask = self.config.csat if csat is None else csat
        if ask and not self.config.csat:
            raise HandoffRefused("CSAT is off for this project (handoff.csat in config.yml)")

        def build(state: ConversationState) -> list[Event]:
            self._escalation(state, conversation_id)
            self._require(state, conversation_id, ACTIVE, "close")
            if state.status is Status.AGENT:
                self._require_owner(state, conversation_id, principal, "close")
            events: list[Event] = [ConversationEnded(by=principal.name)]
            if ask:
                events.append(notice(self.engine.project, "utter_csat", channel_of(state), buttons=CSAT_BUTTONS))
            return events

        outcome = await self._apply(conversation_id, build)
        await self.audit.record(principal, "close", conversation_id, csat=ask)
        log.info("handoff_closed", conversation_id=conversation_id, agent=principal.name, csat=ask)
        return outcome

    # privacy ---------------------------------------------------------------------------------------

    def reveals_to(self, principal: Principal) -> bool:
        """True when ``principal``'s role reads sensitive values unmasked (``handoff.reveal_sensitive_to``)."""
        return principal.role in self.config.reveal_sensitive_to

    def redactor(self, principal: Principal, state: ConversationState) -> Redactor:
        """The masking of ``state``'s events for ``principal``."""
        return Redactor(state.events, self.engine.project, reveal=self.reveals_to(principal))

    def agent_events(self, principal: Principal, outcome: AgentActionResult) -> list[Event]:
        """The events an action appended, masked for ``principal`` (a resumed question may repeat a slot)."""
        redactor = self.redactor(principal, outcome.state)
        return [redactor.event(e) for e in outcome.events]

    @staticmethod
    def _require_visible(state: ConversationState, conversation_id: str, principal: Principal) -> None:
        """Refuse a conversation that is not in the queue nor ``principal``'s (admins may review any)."""
        if may_see(principal, str(state.status), state.agent) or principal.role in PRIVILEGED_ROLES:
            return
        if state.status is Status.AGENT:
            raise NotYourConversation(f"conversation {conversation_id!r} is owned by {state.agent}")
        raise UnknownConversation(f"conversation {conversation_id!r} is neither in the queue nor assigned to you")

    # helpers ---------------------------------------------------------------------------------------

    async def _apply(self, conversation_id: str,
                     build: Callable[[ConversationState], list[Event]]) -> AgentActionResult:
        """Check and append through the engine's one write path (lock, store, bus, observers)."""
        state, events = await self.engine.record_with(conversation_id, build)
        return AgentActionResult(state, events)

    @staticmethod
    def _escalation(state: ConversationState, conversation_id: str) -> Escalated:
        if state.escalation is None:
            raise UnknownConversation(f"no handed-off conversation {conversation_id!r}")
        return state.escalation

    @staticmethod
    def _require(state: ConversationState, conversation_id: str, allowed: tuple[Status, ...], action: str) -> None:
        if state.status not in allowed:
            raise HandoffRefused(f"cannot {action}: conversation {conversation_id!r} has status {state.status}")

    @staticmethod
    def _require_owner(state: ConversationState, conversation_id: str, principal: Principal, action: str) -> None:
        if state.status is Status.HANDOFF:
            raise HandoffRefused(f"claim conversation {conversation_id!r} before you {action}")
        if state.status is not Status.AGENT:
            raise HandoffRefused(f"cannot {action}: conversation {conversation_id!r} has status {state.status}")
        if state.agent != principal.name and principal.role not in ("admin", "integration"):
            raise NotYourConversation(f"conversation {conversation_id!r} is owned by {state.agent}")

    @staticmethod
    def _waiting_since(state: ConversationState, escalation: Escalated) -> float:
        """When the current handoff began: the first escalation since the bot last owned the conversation."""
        since = escalation.timestamp
        for event in reversed(state.events):
            if isinstance(event, ReturnedToBot | ConversationEnded):
                break
            if isinstance(event, Escalated):
                since = event.timestamp
        return since

    def _open_question(self, state: ConversationState) -> str | None:
        """The response asking the interrupted flow's pending question, if it waits for a slot."""
        step = waiting_step(state, self.engine.project.flows)
        if step is None or step.collect is None or state.slots.get(step.collect) is not None:
            return None
        return step.question


def make_desk(project: Project, database: Database, *, history: History | None = None) -> HandoffDesk:
    """The escalation desk for ``project`` (an LLM summarizer when ``llm:`` is set and the summary is not
    forced to ``extractive``)."""
    config: HandoffConfig = project.config.handoff
    llm = project.config.llm
    summarizer = LLMSummarizer(llm) if llm is not None and config.summary != "extractive" else None
    return HandoffDesk(HandoffQueue(database), AuditLog(database), summarizer, history)


def handoff_stages(project: Project) -> list[Stage]:
    """Stages the handoff adds after ``normalize`` (the CSAT answer, when ``handoff.csat`` is on)."""
    from bot.handoff.csat import RecordCsat

    return [RecordCsat()] if project.config.handoff.csat else []
