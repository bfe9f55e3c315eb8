"""Fixtures for the flow tests: the demo bot served over the REST channel on a free port.

The runtime is wired like ``build_runtime`` without the optional guardrail models (input guards only
honour explicit requests for a human), with a fresh in-memory demo backend per test, so every test
starts from the seed data.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime, default_stages, train_understander
from bot.flows.backend.base import Backend, Order
from bot.flows.backend.demo import DemoBackend
from bot.flows.runner import FlowRunner
from bot.infra.embeddings import Embedder
from bot.infra.settings import Settings
from bot.nlu.understander import Understander
from bot.pipeline.engine import Engine
from bot.pipeline.stages import Dialogue
from bot.project import Project
from bot.storage import ConversationStore, open_database
from bot.testing.server import serve_app


def _preload_routes() -> None:
    """Import the web app's route modules once, up front: pipecat (voice routes) imports the deprecated
    ``audioop`` module, and warnings are errors inside tests."""
    from connectors.web.app import route_modules

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        route_modules()


_preload_routes()


@dataclass(frozen=True)
class Citation:
    doc_id: str
    title: str
    heading: str
    url: str


@dataclass(frozen=True)
class Answer:
    text: str
    answered: bool
    citations: tuple[Citation, ...] = ()


class ReturnsPolicy:
    """A stand-in knowledge base that knows one thing: the returns policy."""

    async def answer(self, question: str, *, context: Sequence[str] = ()) -> Answer:
        if "return" in question.lower() or "refund" in question.lower():
            return Answer("You can return items within 30 days for a full refund.", True,
                          (Citation("returns", "Returns policy", "Returns", "https://example.com/returns"),))
        return Answer("", False)


@pytest.fixture(scope="session")
def understander(demo_project: Project, embedder: Embedder) -> Understander:
    """The demo project's understander (int8 ONNX serving), trained once per session."""
    return train_understander(demo_project, embedder)


@dataclass
class Bot:
    """The demo bot behind the REST channel; ``say`` posts one message and returns the replies."""

    url: str
    runtime: Runtime
    session: aiohttp.ClientSession
    sender: str = "customer-1"
    transcript: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    async def say(self, text: str, *, channel: str | None = None, sender: str | None = None) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"sender": sender or self.sender, "message": text}
        if channel:
            body["metadata"] = {"channel": channel}
        async with self.session.post(f"{self.url}/webhooks/rest/webhook", json=body) as response:
            assert response.status == 200, await response.text()
            replies: list[dict[str, Any]] = await response.json()
        self.transcript.append((text, replies))
        return replies

    async def text(self, message: str, **kwargs: Any) -> str:
        """The replies' texts joined by newlines."""
        return "\n".join(r.get("text", "") for r in await self.say(message, **kwargs))

    @property
    def runner(self) -> FlowRunner:
        return flow_runner(self.runtime)

    @property
    def backend(self) -> DemoBackend:
        backend = self.runner.backend
        assert isinstance(backend, DemoBackend)
        return backend

    async def order(self, order_id: str) -> Order:
        """The order ``order_id`` as the demo backend has it now."""
        return await order(self.backend, order_id)

    async def state(self, sender: str | None = None) -> Any:
        return await self.runtime.engine.state(sender or self.sender)


def dialogue_stage(runtime: Runtime) -> Dialogue:
    """The runtime's dialogue stage (the one that runs the flows)."""
    stage = next(s for s in runtime.engine.stages if s.name == "dialogue")
    assert isinstance(stage, Dialogue)
    return stage


def flow_runner(runtime: Runtime) -> FlowRunner:
    """The flow runner behind the runtime's dialogue stage."""
    runner = dialogue_stage(runtime).runner
    assert isinstance(runner, FlowRunner)
    return runner


async def order(backend: Backend, order_id: str) -> Order:
    """The order ``order_id`` as ``backend`` has it now (it must exist)."""
    found = await backend.get_order(order_id)
    assert found is not None, f"no order {order_id}"
    return found


async def make_runtime(project: Project, understander: Understander, tmp_path: Path,
                       knowledge: Any = None) -> Runtime:
    database = await open_database(f"sqlite:///{tmp_path / 'flows.db'}")
    store = ConversationStore(database)
    await store.setup()
    engine = Engine(project, store, default_stages(project, understander, knowledge))
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'flows.db'}", admin_token="test-admin-token",
                        admin_token_generated=False)
    return Runtime(settings, project, database, engine)


@pytest.fixture
async def bot(demo_project: Project, understander: Understander, tmp_path: Path) -> AsyncIterator[Bot]:
    """The demo bot with a stand-in knowledge base, over REST on a free port."""
    from connectors.web import create_app

    runtime = await make_runtime(demo_project, understander, tmp_path, ReturnsPolicy())
    async with serve_app(create_app(runtime)) as url, aiohttp.ClientSession() as session:
        yield Bot(url, runtime, session)
