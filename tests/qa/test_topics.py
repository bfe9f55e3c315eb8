"""What to automate next: handed-off and unanswered messages cluster into topics with counts, examples, the
share agents resolved and a suggestion."""

from __future__ import annotations

from pathlib import Path

from bot.infra.embeddings import Embedder, ServingEncoder
from bot.kernel.events import (
    AgentJoined,
    BotUttered,
    ConversationEnded,
    Escalated,
    Event,
    KnowledgeConsulted,
    UserUttered,
)
from bot.qa.topics import automate_next
from bot.storage import ConversationStore, open_database

T = 1_800_000_000.0
BROKEN = ["the leg of my sofa broke off", "my sofa leg has snapped", "one of the sofa legs is broken"]
KITCHEN = ["can you fit my new kitchen", "do you offer kitchen installation", "I need someone to install my kitchen"]


def unanswered(text: str, at: float) -> list[Event]:
    return [UserUttered(text=text, timestamp=at), KnowledgeConsulted(query=text, answered=False, timestamp=at + 1),
            BotUttered(text="I don't know", response="utter_dont_know", timestamp=at + 1)]


def handed_off(text: str, at: float, *, resolved: bool) -> list[Event]:
    events: list[Event] = [UserUttered(text=text, timestamp=at), Escalated(reason="complex", timestamp=at + 1)]
    if resolved:
        events += [AgentJoined(agent="amy", timestamp=at + 60), ConversationEnded(by="amy", timestamp=at + 300)]
    return events


async def test_two_topics_with_counts_resolution_and_suggestions(embedder: Embedder, tmp_path: Path) -> None:
    """Three broken-sofa messages the bot did not know make a knowledge topic; three kitchen-fitting handoffs,
    two resolved by agents, make a topic with 2/3 resolved; "agent please" is not a topic."""
    db = await open_database(f"sqlite:///{tmp_path / 'topics.db'}")
    try:
        store = ConversationStore(db)
        await store.setup()
        for n, text in enumerate(BROKEN):
            await store.append(f"s{n}", unanswered(text, T + n * 100), expected_seq=0)
        for n, text in enumerate(KITCHEN):
            await store.append(f"k{n}", handed_off(text, T + n * 100, resolved=n < 2), expected_seq=0)
        await store.append("x", [UserUttered(text="agent please", intent="human", timestamp=T),
                                 Escalated(reason="requested", timestamp=T + 1)], expected_seq=0)
        found = await automate_next(db, ServingEncoder(embedder), since=T - 1, until=T + 86400)
    finally:
        await db.close()
    assert found.items == 7
    by_size = sorted(found.topics, key=lambda t: t["examples"][0])
    assert len(found.topics) == 2 and found.other == 1
    kitchen = next(t for t in by_size if "kitchen" in t["label"])
    sofa = next(t for t in by_size if "sofa" in t["label"])
    assert kitchen["count"] == 3 and kitchen["handed_off"] == 3 and kitchen["resolved_by_agents"] == round(2 / 3, 4)
    assert sofa["count"] == 3 and sofa["unanswered"] == 3 and sofa["suggestion"].startswith("knowledge document")
    assert set(sofa["examples"]) <= set(BROKEN) and len(sofa["examples"]) == 3
    assert sum(sofa["trend"]) == 3
