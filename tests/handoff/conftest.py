"""Fixtures for the handoff tests: runtimes with handoff settings, agents, and helpers to escalate."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app.runtime import Runtime, build_runtime
from bot.handoff.config import HandoffConfig
from bot.infra.embeddings import Embedder
from bot.infra.settings import Principal, Settings
from bot.kernel.messages import UserMessage
from bot.project import Project

AMY = Principal("amy", "agent", "agent-token-123")
BOB = Principal("bob", "agent", "agent-token-bob")
OLGA = Principal("olga", "ops", "ops-token-1234")
TOKENS = (AMY, OLGA, BOB)
AGENT_AUTH = {"Authorization": "Bearer agent-token-123"}
BOB_AUTH = {"Authorization": "Bearer agent-token-bob"}
OPS_AUTH = {"Authorization": "Bearer ops-token-1234"}
ADMIN_AUTH = {"Authorization": "Bearer test-admin-token"}

#: ``make_runtime(database_url=None, project=None, **handoff)``: a runtime with those ``handoff:`` settings.
RuntimeFactory = Callable[..., Awaitable[Runtime]]


def with_handoff(project: Project, *, llm: Any = None, **changes: Any) -> Project:
    """``project`` with ``handoff:`` set to ``HandoffConfig(**changes)``; with ``llm`` given, that model is
    configured and knowledge is off (so only the handoff summary talks to the model)."""
    update: dict[str, Any] = {"handoff": HandoffConfig(**changes)}
    if llm is not None:
        update["llm"] = llm
        update["knowledge"] = project.config.knowledge.model_copy(update={"enabled": False})
    return dataclasses.replace(project, config=project.config.model_copy(update=update))


@pytest.fixture
async def make_runtime(demo_project: Project, embedder: Embedder, tmp_path: Path) -> AsyncIterator[RuntimeFactory]:
    """Build runtimes for the demo project with chosen ``handoff:`` settings (closed afterwards)."""
    made: list[Runtime] = []

    async def make(database_url: str | None = None, project: Project | None = None, **handoff: Any) -> Runtime:
        settings = Settings(database_url=database_url or f"sqlite:///{tmp_path / f'h{len(made)}.db'}",
                            admin_token="test-admin-token", admin_token_generated=False, tokens=TOKENS)
        rt = await build_runtime(settings, project or with_handoff(demo_project, **handoff), embedder=embedder)
        made.append(rt)
        return rt

    yield make
    for rt in made:
        await rt.close()


@pytest.fixture
async def hrt(make_runtime: RuntimeFactory) -> Runtime:
    """A runtime with CSAT on and two agents (amy, bob)."""
    return await make_runtime(csat=True)


async def escalate(runtime: Runtime, conversation_id: str, *first: str, ask: str = "agent please") -> list[Any]:
    """Send ``first`` messages, then ``ask`` (which escalates); returns the replies to ``ask``."""
    for text in first:
        await runtime.engine.handle(conversation_id, UserMessage(text))
    return await runtime.engine.handle(conversation_id, UserMessage(ask))


def validate(instance: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Problems of ``instance`` against the subset of JSON schema the context schema uses."""
    problems: list[str] = []
    kinds: dict[str, type | tuple[type, ...]] = {
        "object": dict, "array": list, "string": str, "number": (int, float), "integer": int, "boolean": bool,
        "null": type(None)}
    if "const" in schema and instance != schema["const"]:
        problems.append(f"{path}: expected {schema['const']!r}")
    if "enum" in schema and instance not in schema["enum"]:
        problems.append(f"{path}: {instance!r} not in {schema['enum']}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(isinstance(instance, kinds[t]) and not (t in ("number", "integer") and isinstance(instance, bool))
                 for t in types)
        if not ok:
            problems.append(f"{path}: {type(instance).__name__} is not {types}")
    if isinstance(instance, dict):
        problems += [f"{path}: missing {key}" for key in schema.get("required", []) if key not in instance]
        for key, sub in schema.get("properties", {}).items():
            if key in instance:
                problems += validate(instance[key], sub, f"{path}.{key}")
    if isinstance(instance, list) and "items" in schema:
        for index, item in enumerate(instance):
            problems += validate(item, schema["items"], f"{path}[{index}]")
    return problems


@pytest.fixture
async def hserver(hrt: Runtime) -> AsyncIterator[str]:
    """The web app for ``hrt`` (CSAT on, agents amy and bob) on a free port; yields its base URL."""
    from bot.testing.server import serve_app
    from connectors.web import create_app

    async with serve_app(create_app(hrt)) as base_url:
        yield base_url
