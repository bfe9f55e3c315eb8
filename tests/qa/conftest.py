"""Fixtures for the QA tests: a runtime with CSAT on and agents, its web app on a free port, and a helper
that drives a conversation through the real engine (customer) and the real agent API (agent)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime, build_runtime
from bot.infra.embeddings import Embedder
from bot.infra.settings import Principal, Settings
from bot.project import Project
from tests.handoff.conftest import with_handoff

AMY = Principal("amy", "agent", "agent-token-123")
BOB = Principal("bob", "agent", "agent-token-bob")
OLGA = Principal("olga", "ops", "ops-token-1234")
AUTH = {"amy": {"Authorization": "Bearer agent-token-123"}, "bob": {"Authorization": "Bearer agent-token-bob"}}
OPS_AUTH = {"Authorization": "Bearer ops-token-1234"}
WEBHOOK = "/webhooks/rest/webhook"


@pytest.fixture
async def qrt(demo_project: Project, embedder: Embedder, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The demo project with CSAT on, agents amy and bob and ops olga, on a fresh SQLite file."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'qa.db'}", admin_token="test-admin-token",
                        admin_token_generated=False, tokens=(AMY, BOB, OLGA))
    rt = await build_runtime(settings, with_handoff(demo_project, csat=True), embedder=embedder)
    yield rt
    await rt.close()


@pytest.fixture
async def qserver(qrt: Runtime) -> AsyncIterator[str]:
    """The web app for ``qrt`` on a free port."""
    from bot.testing.server import serve_app
    from connectors.web import create_app

    async with serve_app(create_app(qrt)) as base_url:
        yield base_url


class Driver:
    """Plays a conversation over HTTP: the customer on the REST channel, agents on the handoff API."""

    def __init__(self, http: aiohttp.ClientSession, base: str) -> None:
        self.http = http
        self.base = base

    async def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        async with self.http.post(self.base + WEBHOOK, json={"sender": sender, "message": text}) as resp:
            assert resp.status == 200, await resp.text()
            replies: list[dict[str, Any]] = await resp.json()
            return replies

    async def agent(self, agent: str, conversation_id: str, action: str, body: dict[str, Any] | None = None) -> None:
        async with self.http.post(f"{self.base}/api/handoff/{conversation_id}/{action}", json=body or {},
                                  headers=AUTH[agent]) as resp:
            assert resp.status == 200, await resp.text()


def examples(now: float) -> dict[str, list[Any]]:
    """Three finished conversations (two hours old): a bad bot answer, an agent who does not greet, a good one."""
    from bot.kernel.events import (
        AgentJoined,
        AgentMessage,
        BotUttered,
        ConversationEnded,
        Escalated,
        KnowledgeConsulted,
        UserUttered,
    )

    t = now - 7200
    doc = {"doc_id": "living/returns", "title": "Returns"}
    context = {"transcript": [{"from": "customer", "text": "where is my order?"}], "intents": [], "slots": {},
               "reason": "requested", "summary": "Customer asks where the order is."}
    return {
        "qa-bad": [UserUttered(text="what is your return policy?", channel="web", timestamp=t),
                   KnowledgeConsulted(query="what is your return policy?", documents=(doc,), answered=True,
                                      timestamp=t + 1),
                   BotUttered(text="Our stores open at 9.", response="knowledge_answer", citations=(doc,),
                              timestamp=t + 1),
                   UserUttered(text="that's not what I asked: what is the return policy for sofas?", channel="web",
                               timestamp=t + 20),
                   BotUttered(text="Sofas can be returned within 30 days.", response="knowledge_answer",
                              citations=(doc,), timestamp=t + 21)],
        "qa-agent": [UserUttered(text="where is my order?", timestamp=t),
                     UserUttered(text="agent please", intent="human", timestamp=t + 5),
                     Escalated(reason="requested", team="general", context=context, timestamp=t + 6),
                     BotUttered(text="I'm connecting you with a member of our team.", response="utter_handoff",
                                timestamp=t + 6),
                     AgentJoined(agent="bob", timestamp=t + 30),
                     AgentMessage(agent="bob", text="Your order ships tomorrow.", timestamp=t + 40),
                     UserUttered(text="ok thanks", for_agent=True, timestamp=t + 50),
                     ConversationEnded(by="bob", timestamp=t + 60),
                     BotUttered(text="How did we do?", response="utter_csat", timestamp=t + 60)],
        "qa-good": [UserUttered(text="what is your return policy?", channel="web", timestamp=t),
                    KnowledgeConsulted(query="what is your return policy?", documents=(doc,), answered=True,
                                       timestamp=t + 1),
                    BotUttered(text="You can return most items within 30 days.", response="knowledge_answer",
                               citations=(doc,), timestamp=t + 1),
                    UserUttered(text="great, thanks", channel="web", timestamp=t + 10)],
    }


async def seed_examples(runtime: Runtime, now: float) -> None:
    """Write :func:`examples` into the runtime's conversation store."""
    for cid, events in examples(now).items():
        await runtime.engine.store.append(cid, events, expected_seq=0)
