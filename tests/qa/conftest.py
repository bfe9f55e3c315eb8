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
