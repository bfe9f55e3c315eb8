"""Scoring stored conversations with the demo scorecard: time and memory, on SQLite and PostgreSQL.

    python benchmarks/qa_bench.py [--conversations 10000] [--postgres postgresql://127.0.0.1:5432/test]

Writes the conversations (a mix of bot-only, handed-off and agent-handled ones, ~14 events each) into a fresh
database, then times two passes over them: the *floor* — reading every conversation's events in the scorer's
batches and parsing them, nothing else — and *scoring* (every criterion, rows stored, one transaction per
conversation). Prints JSON: seconds, conversations per second, the ratio of scoring to the floor, and the peak
Python memory (tracemalloc) of each pass. The demo scorecard is used with ``similarity: lexical`` (with
``embedding`` each distinct customer message is also encoded once, which the turn already did on a live
server; a cold process pays the encoder on top).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import time
import tracemalloc
import uuid
from typing import Any

from bot.infra.settings import DEMO_PROJECT
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    BotUttered,
    ConversationEnded,
    CsatGiven,
    Escalated,
    Event,
    GuardrailTriggered,
    KnowledgeConsulted,
    UserUttered,
)
from bot.qa import Scorer, load_scorecard
from bot.qa.scorer import BATCH
from bot.storage import ConversationStore, Database, open_database

T = 1_800_000_000.0
DOC = {"doc_id": "living/returns", "title": "Returns"}
CONTEXT = {"transcript": [{"from": "customer", "text": "where is my order"}], "intents": [], "slots": {},
           "reason": "requested", "summary": "Customer asks about an order."}


def conversation(n: int) -> list[Event]:
    """The ``n``-th conversation: bot-only answered, bot with a rephrase, or handed off to an agent."""
    at = T + n
    kind = n % 3
    events: list[Event] = [UserUttered(text=f"what is your return policy for item {n}?", timestamp=at),
                           KnowledgeConsulted(query="q", documents=(DOC,), answered=True, timestamp=at + 1),
                           BotUttered(text="You can return most items within 30 days.", response="knowledge_answer",
                                      citations=(DOC,), timestamp=at + 1)]
    if kind == 0:
        events.append(UserUttered(text="great, thanks", timestamp=at + 10))
        events.append(BotUttered(text="Glad to help!", response="utter_thanks", timestamp=at + 10))
    elif kind == 1:
        events.append(UserUttered(text=f"but what is the return policy for item {n} exactly?", timestamp=at + 10))
        events.append(BotUttered(text="Sorry, I didn't get that.", response="utter_default", timestamp=at + 10))
    else:
        events += [UserUttered(text="agent please", timestamp=at + 10),
                   GuardrailTriggered(decision="escalate", category="requested", timestamp=at + 10),
                   Escalated(reason="requested", context=CONTEXT, timestamp=at + 10),
                   BotUttered(text="Connecting you.", response="utter_handoff", timestamp=at + 10),
                   AgentJoined(agent=f"agent{n % 7}", timestamp=at + 40),
                   AgentMessage(agent=f"agent{n % 7}", text="Hi, I'm Sam. How can I help?", timestamp=at + 50),
                   UserUttered(text="my order is late", for_agent=True, timestamp=at + 60),
                   AgentMessage(agent=f"agent{n % 7}", text="It arrives tomorrow.", timestamp=at + 70),
                   ConversationEnded(by="agent", timestamp=at + 80),
                   BotUttered(text="How did we do?", response="utter_csat", timestamp=at + 80),
                   UserUttered(text="5", timestamp=at + 90), CsatGiven(score=5, timestamp=at + 90)]
    return events


async def seed(db: Database, count: int) -> float:
    store = ConversationStore(db)
    await store.setup()
    started = time.perf_counter()
    for n in range(count):
        await store.append(f"bench-{n}", conversation(n), expected_seq=0)
    return time.perf_counter() - started


async def measure(url: str, count: int) -> dict[str, Any]:
    db = await open_database(url)
    try:
        seeded = await seed(db, count)
        scorecard = load_scorecard(DEMO_PROJECT)
        assert scorecard is not None
        scorecard = scorecard.model_copy(update={"similarity": "lexical"})
        scorer = Scorer(db, scorecard)
        await scorer.setup()
        ids = [f"bench-{n}" for n in range(count)]

        tracemalloc.start()
        started = time.perf_counter()
        events = 0
        for start in range(0, count, BATCH):
            read = await scorer._read(ids[start:start + BATCH])  # the floor: what scoring must read anyway
            events += sum(len(c.events) for c, _, _ in read.values())
        floor = time.perf_counter() - started
        floor_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

        tracemalloc.start()
        started = time.perf_counter()
        run = await scorer.score_pending(now=T + count + 86400)
        scoring = time.perf_counter() - started
        scoring_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert run.scored == count, run
        rows = int(await db.fetchval("SELECT COUNT(*) AS n FROM qa_scores") or 0)
        if hasattr(db, "drop_schema"):
            await db.drop_schema()
    finally:
        await db.close()
    return {"conversations": count, "events": events, "criteria_rows": rows, "seed_seconds": round(seeded, 2),
            "floor_seconds": round(floor, 3), "scoring_seconds": round(scoring, 3),
            "conversations_per_second": round(count / scoring, 1), "ratio_to_floor": round(scoring / floor, 2),
            "floor_peak_mb": round(floor_peak / 2**20, 1), "scoring_peak_mb": round(scoring_peak / 2**20, 1),
            "failures_found": run.failures}


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


async def main(count: int, postgres: str | None, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {"benchmark": "qa_scoring", "sqlite": await measure(f"sqlite:///{path}", count)}
    if postgres and _reachable("127.0.0.1", 5432):
        schema = f"qa_bench_{uuid.uuid4().hex[:8]}"
        out["postgres"] = await measure(f"{postgres}?schema={schema}", count)
    return out


if __name__ == "__main__":
    import tempfile
    from pathlib import Path

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--postgres", default="postgresql://127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(main(args.conversations, args.postgres, str(Path(folder) / "qa-bench.db")))
    print(json.dumps(result, indent=2))
