"""A hand-made set of conversations with known KPIs, written straight into the conversation store.

``NOW`` is the end of every window. The expected values in ``test_kpis.py`` are counted by hand from
the comments below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    BotUttered,
    ConversationEnded,
    CsatGiven,
    Escalated,
    Event,
    FlowStarted,
    KnowledgeConsulted,
    ReturnedToBot,
    SlotSet,
    UserUttered,
)
from bot.storage import ConversationStore, Database, open_database

NOW = 1_800_000_000.0
HOUR = 3600.0
DAY = 86400.0


def user(ts: float, intent: str | None, channel: str, *, metadata: dict[str, Any] | None = None,
         for_agent: bool = False) -> UserUttered:
    return UserUttered(text=intent or "?", intent=intent, channel=channel, timestamp=ts, metadata=metadata or {},
                       for_agent=for_agent)


def dataset(now: float = NOW) -> dict[str, list[Event]]:
    """The conversations, by id, with timestamps relative to ``now``."""
    t1 = now - 3 * DAY
    t2 = t1 + HOUR
    t3 = now - 2 * DAY
    t4 = now - 26 * HOUR
    t5 = now - 5 * HOUR
    t6 = now - 30 * 60
    t7 = now - 8 * DAY
    t8 = now - 10 * 60
    return {
        # web, customer cust-A (slot), authenticates, bot only, closed after 100 s, CSAT 5.
        # Not contained: cust-A came back 1 h later (c2) on the same topic, so not FCR either. Bot 100 s.
        "c1": [user(t1, "greet", "web"), BotUttered(text="hi", timestamp=t1 + 1),
               user(t1 + 10, "check_order_status", "web"), FlowStarted(flow_id="authentication", timestamp=t1 + 11),
               SlotSet(name="customer_id", value="cust-A", timestamp=t1 + 20),
               SlotSet(name="authenticated", value=True, timestamp=t1 + 30),
               FlowStarted(flow_id="order_status", timestamp=t1 + 31),
               ConversationEnded(by="bot", timestamp=t1 + 100), CsatGiven(score=5, timestamp=t1 + 110)],
        # web, cust-A (metadata); escalated (requested) after 5 s, picked up 60 s later, agent 300 s, CSAT 4.
        "c2": [user(t2, "check_order_status", "web", metadata={"customer_id": "cust-A"}),
               Escalated(reason="requested", timestamp=t2 + 5), AgentJoined(agent="amy", timestamp=t2 + 65),
               user(t2 + 70, None, "web", for_agent=True), AgentMessage(agent="amy", text="hi", timestamp=t2 + 80),
               ConversationEnded(by="agent", timestamp=t2 + 365), CsatGiven(score=4, timestamp=t2 + 370)],
        # voice, anonymous: one answer, one "don't know"; never closed; contained, FCR. Bot 60 s.
        "c3": [user(t3, "ask_question", "voice"), KnowledgeConsulted(query="q", answered=True, timestamp=t3 + 1),
               user(t3 + 60, "ask_question", "voice"),
               KnowledgeConsulted(query="q2", answered=False, timestamp=t3 + 61)],
        # voice: authentication fails → auth_failed; pickup 300 s, agent 100 s, back to bot, closed, CSAT 2.
        # Bot 120 s + 80 s = 200 s.
        "c4": [user(t4, "check_order_status", "voice"), FlowStarted(flow_id="authentication", timestamp=t4 + 1),
               Escalated(reason="auth_failed", timestamp=t4 + 120), AgentJoined(agent="amy", timestamp=t4 + 420),
               ReturnedToBot(agent="amy", timestamp=t4 + 520), user(t4 + 530, "thank", "voice"),
               ConversationEnded(by="bot", timestamp=t4 + 600), CsatGiven(score=2, timestamp=t4 + 610)],
        # rest: answered, closed at 20 s, reopened 1 h later (a repeat contact: not contained, not FCR). Bot 20 s.
        "c5": [user(t5, "greet", "rest"), user(t5 + 10, "ask_question", "rest"),
               KnowledgeConsulted(query="q", answered=True, timestamp=t5 + 11),
               ConversationEnded(by="customer", timestamp=t5 + 20),
               user(t5 + 3600, "ask_question", "rest"),
               KnowledgeConsulted(query="q", answered=True, timestamp=t5 + 3601)],
        # web: feedback flow, escalated (emotional) after 10 s, still waiting in the queue. Bot 10 s.
        "c6": [user(t6, "give_feedback", "web"), FlowStarted(flow_id="feedback", timestamp=t6 + 1),
               Escalated(reason="emotional", timestamp=t6 + 10)],
        # outside the 7-day window: escalated (scope), closed.
        "c7": [user(t7, "check_order_status", "web", metadata={"user_id": "cust-B"}),
               Escalated(reason="scope", timestamp=t7 + 1), ConversationEnded(by="agent", timestamp=t7 + 50)],
        # web, cust-A again 3 days later on another topic: contained, FCR; does not spoil c2's FCR. Bot 0 s.
        "c8": [user(t8, "cancel_order", "web", metadata={"customer_id": "cust-A"})],
    }


async def seed(db: Database, now: float = NOW) -> ConversationStore:
    """Write :func:`dataset` (ending at ``now``) into ``db``."""
    store = ConversationStore(db)
    await store.setup()
    for conversation_id, events in dataset(now).items():
        await store.append(conversation_id, events, expected_seq=0)
    return store


@pytest.fixture
async def seeded_db(database_url: str) -> AsyncIterator[Database]:
    """The dataset in a fresh SQLite file and, when reachable, a fresh PostgreSQL schema."""
    db = await open_database(database_url)
    try:
        await seed(db)
        yield db
    finally:
        await db.close()
