"""Checks of the human agents' side of a conversation, and the agent facts they rest on.

An agent *session* runs from ``agent_joined`` to the next ``returned_to_bot``, ``closed``, transfer
(``escalated``) or the end of the events. :func:`agent_sessions` gives each with its first response time
(from joining to the agent's first message) and handling time (joining to the session's end).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.handoff.sentiment import score_text
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    AgentNote,
    BotUttered,
    ConversationEnded,
    CsatGiven,
    Escalated,
    ReturnedToBot,
    UserUttered,
)
from bot.kernel.masking import mask_text, pii_kinds
from bot.qa.base import NOT_APPLICABLE, CheckContext, Verdict, check, failed, passed
from bot.qa.transcript import Conversation

GREETING = re.compile(r"\b(?:hi|hello|hey|good (?:morning|afternoon|evening)|welcome|thanks for (?:waiting|your "
                      r"patience)|thank you for (?:waiting|your patience))\b", re.IGNORECASE)
INTRODUCTION = re.compile(r"\b(?:i'?m|i am|my name is|my name's|this is|you'?re (?:talking|speaking|chatting) "
                          r"(?:to|with))\s+[A-Za-z]", re.IGNORECASE)
#: An agent telling the customer they changed something on the account.
CHANGE = re.compile(r"\b(?:i'?ve|i have|i'?ll|i will|i just|we'?ve|we have)\s+(?:now\s+|just\s+)?(?:cancel+ed|cancel|"
                    r"refunded|refund|changed|change|updated|update|reset|moved|rebooked|issued|closed|removed|"
                    r"processed)\b", re.IGNORECASE)
#: An agent asking for an identity proof.
VERIFY = re.compile(r"\b(?:verify|confirm|security|date of birth|postcode|post code|email address|"
                    r"last four|identity)\b", re.IGNORECASE)
SENSITIVE_KINDS = frozenset({"card", "iban", "national_id"})


@dataclass(frozen=True, slots=True)
class AgentSession:
    """One agent's stretch of a conversation."""

    agent: str
    joined: int
    """Seq of ``agent_joined``."""
    joined_at: float
    ended: int | None
    """Seq of the event that ended it (``None``: still open at the last event)."""
    ended_at: float
    ended_by: str
    """``returned_to_bot``, ``closed``, ``transferred`` or ``open``."""
    first_message: int | None
    """Seq of the agent's first message to the customer."""
    first_response_seconds: float | None
    handling_seconds: float
    messages: tuple[int, ...]
    notes: int


def agent_sessions(conversation: Conversation) -> list[AgentSession]:
    """Every agent session of ``conversation``, oldest first."""
    sessions: list[AgentSession] = []
    events = list(conversation.numbered())
    for index, (seq, event) in enumerate(events):
        if not isinstance(event, AgentJoined):
            continue
        messages: list[tuple[int, AgentMessage]] = []
        notes = 0
        end: tuple[int, Any] | None = None
        for later_seq, later in events[index + 1:]:
            if isinstance(later, ReturnedToBot | ConversationEnded | Escalated | AgentJoined):
                end = (later_seq, later)
                break
            if isinstance(later, AgentMessage):
                messages.append((later_seq, later))
            elif isinstance(later, AgentNote):
                notes += 1
        if end is None:
            ended, ended_at, ended_by = None, conversation.events[-1].timestamp, "open"
        else:
            ended, ended_at = end[0], end[1].timestamp
            ended_by = ("returned_to_bot" if isinstance(end[1], ReturnedToBot) else
                        "closed" if isinstance(end[1], ConversationEnded) else "transferred")
        first = messages[0] if messages else None
        sessions.append(AgentSession(
            agent=event.agent, joined=seq, joined_at=event.timestamp, ended=ended, ended_at=ended_at,
            ended_by=ended_by, first_message=first[0] if first else None,
            first_response_seconds=round(first[1].timestamp - event.timestamp, 3) if first else None,
            handling_seconds=round(ended_at - event.timestamp, 3), messages=tuple(s for s, _ in messages),
            notes=notes))
    return sessions


@check("agent_greeted")
def agent_greeted(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """Each agent's first message greets the customer and says who they are ("Hi, I'm Amy")."""
    sessions = [s for s in agent_sessions(conversation) if s.first_message is not None]
    if not sessions:
        return NOT_APPLICABLE
    for session in sessions:
        assert session.first_message is not None
        message = conversation.events[session.first_message - 1]
        text = getattr(message, "text", "")
        if not GREETING.search(text) or not INTRODUCTION.search(text):
            what = "greet" if not GREETING.search(text) else "introduce themselves"
            return failed(f"{session.agent} did not {what}", session.first_message)
    return passed("", *(s.first_message for s in sessions if s.first_message is not None))


@check("agent_first_response", seconds=120)
def agent_first_response(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """Each agent wrote to the customer within ``seconds`` of joining."""
    sessions = agent_sessions(conversation)
    if not sessions:
        return NOT_APPLICABLE
    limit = float(params["seconds"])
    for session in sessions:
        if session.first_response_seconds is None:
            if session.ended_by == "transferred" or session.handling_seconds <= limit:
                continue
            return failed(f"{session.agent} never wrote to the customer", session.joined)
        if session.first_response_seconds > limit:
            return failed(f"{session.agent} answered after {session.first_response_seconds:.0f} s "
                          f"(SLA {limit:.0f} s)", session.first_message or session.joined)
    return passed()


@check("agent_verified_before_changes")
def agent_verified_before_changes(conversation: Conversation, params: Mapping[str, Any],
                                  context: CheckContext) -> Verdict:
    """An agent changed the account only after the customer verified (with the bot, or answering the agent's
    identity question)."""
    changes = [(seq, e) for seq, e in conversation.agent_messages() if CHANGE.search(e.text)]
    if not changes:
        return NOT_APPLICABLE
    verified = conversation.verified_at()
    for seq, _ in changes:
        if verified is not None and verified < seq:
            continue
        asked = [s for s, e in conversation.agent_messages() if s < seq and VERIFY.search(e.text)]
        answered = asked and any(s > asked[0] and s < seq for s, _ in conversation.customer())
        if not answered:
            return failed("account changed before verification", seq)
    return passed("", *(s for s, _ in changes))


@check("agent_no_sensitive_data")
def agent_no_sensitive_data(conversation: Conversation, params: Mapping[str, Any],
                            context: CheckContext) -> Verdict:
    """No agent message or note holds a card number, IBAN, national id, PIN or password."""
    written = [(s, e.text) for s, e in conversation.agent_messages()]
    written += [(s, e.text) for s, e in conversation.of(AgentNote)]
    if not written:
        return NOT_APPLICABLE
    for seq, text in sorted(written):
        if SENSITIVE_KINDS & set(pii_kinds(text)) or "[secret]" in mask_text(text):
            return failed("sensitive data in an agent message", seq)
    return passed()


@check("no_repeat_contact", hours=24)
def no_repeat_contact(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """The customer did not come back within ``hours`` after the conversation closed (a reopen, or a new
    conversation of the same customer id)."""
    window = float(params["hours"]) * 3600
    closed = conversation.of(ConversationEnded)
    if not closed:
        return NOT_APPLICABLE
    seq, end = closed[0]
    for later_seq, later in conversation.customer():
        if later_seq > seq and not _is_rating(conversation, later_seq) and later.timestamp - end.timestamp <= window:
            return failed("the customer wrote again after the close", later_seq)
    customer = conversation.customer_id()
    if customer is not None:
        starts = context.later_contacts.get(customer, ())
        if any(end.timestamp < start <= end.timestamp + window for start in starts):
            return failed("the customer came back in a new conversation", seq)
    return passed()


def _is_rating(conversation: Conversation, seq: int) -> bool:
    """True when the customer's message at ``seq`` answered the CSAT survey."""
    following = conversation.events[seq] if seq < len(conversation.events) else None
    return isinstance(following, CsatGiven)


@check("sentiment_recovered", kind="model", margin=0.2, min_messages=2)
def sentiment_recovered(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """The customer's sentiment at the end of the first agent session (their last two messages in it, when they
    wrote at least ``min_messages``) is not worse, by more than ``margin``, than at the handoff (the handoff
    context's lexicon, :func:`bot.handoff.sentiment.score_text`)."""
    min_messages = int(params["min_messages"])
    escalations = conversation.of(Escalated)
    sessions = agent_sessions(conversation)
    if not escalations or not sessions:
        return NOT_APPLICABLE
    first = escalations[0][0]
    session = sessions[0]
    stop = session.ended if session.ended is not None else len(conversation.events) + 1
    before = [score_text(e.text) for s, e in conversation.customer() if s < first][-2:]
    during = [(s, score_text(e.text)) for s, e in conversation.customer()
              if session.joined < s < stop and not _is_rating(conversation, s)]
    if not before or len(during) < min_messages:
        return NOT_APPLICABLE  # one message to the agent states the problem; it is not the mood at the end
    after = during[-2:]
    start, end = sum(before) / len(before), sum(score for _, score in after) / len(after)
    if end < start - float(params["margin"]):
        return failed(f"sentiment fell from {start:.2f} at the handoff to {end:.2f}", after[-1][0])
    return passed(f"sentiment {start:.2f} at the handoff, {end:.2f} at the end")


@check("agent_wrapped_up")
def agent_wrapped_up(conversation: Conversation, params: Mapping[str, Any], context: CheckContext) -> Verdict:
    """Each agent session ended by returning to the bot, by a transfer, or by closing with the CSAT survey."""
    sessions = agent_sessions(conversation)
    if not sessions:
        return NOT_APPLICABLE
    for session in sessions:
        if session.ended_by in ("returned_to_bot", "transferred"):
            continue
        if session.ended_by == "open":
            return failed(f"{session.agent} left the conversation open", session.joined)
        assert session.ended is not None
        survey = conversation.first_after(session.ended, (BotUttered, UserUttered))
        if survey is None or not isinstance(survey[1], BotUttered) or survey[1].response != "utter_csat":
            return failed(f"{session.agent} closed without offering the CSAT survey", session.ended)
    return passed()
