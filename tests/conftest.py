"""Shared fixtures: the embedder (loaded once), the demo project, runtimes on SQLite or PostgreSQL,
and the web app served on a free port."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.infra.embeddings import Embedder, shared_embedder
from bot.infra.settings import DEMO_PROJECT, Principal, Settings
from bot.project import Project, load_project

if TYPE_CHECKING:
    from bot.app.runtime import Runtime

PG_HOST, PG_PORT = "127.0.0.1", 5432
#: Bearer tokens every test runtime accepts (plus the admin token "test-admin-token").
TEST_TOKENS = (Principal("amy", "agent", "agent-token-123"), Principal("olga", "ops", "ops-token-1234"))
REDIS_URL = "redis://127.0.0.1:6379/0"


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Trained models and indexes go to a temporary cache, never into the source tree."""
    previous = os.environ.get("CARELINE_CACHE_DIR")
    os.environ["CARELINE_CACHE_DIR"] = str(tmp_path_factory.mktemp("careline-cache"))
    yield
    if previous is None:
        os.environ.pop("CARELINE_CACHE_DIR", None)
    else:
        os.environ["CARELINE_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """A CLI under test configures structlog for its process (``careline eval`` quiets it to errors):
    restore the configuration afterwards, so tests that read log lines do not depend on test order."""
    import structlog

    saved = structlog.get_config()
    yield
    structlog.configure(**saved)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The shared MiniLM embedder, loaded once per test session."""
    return shared_embedder()


@pytest.fixture(scope="session")
def demo_project() -> Project:
    """The bundled demo project, loaded and validated."""
    return load_project(DEMO_PROJECT)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh schema (dropped afterwards); skips when the server is unreachable."""
    if not _reachable(PG_HOST, PG_PORT):
        pytest.skip(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"postgresql://{PG_HOST}:{PG_PORT}/test?schema={schema}"

    async def drop() -> None:
        import asyncpg

        conn = await asyncpg.connect(f"postgresql://{PG_HOST}:{PG_PORT}/test")
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()

    asyncio.run(drop())


@pytest.fixture
def redis_url() -> str:
    """The local Redis URL; skips when the server is unreachable."""
    if not _reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not reachable at 127.0.0.1:6379")
    return REDIS_URL


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs against SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'careline.db'}"
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
async def runtime(demo_project: Project, embedder: Embedder, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime for the demo project on a fresh SQLite file."""
    from bot.app.runtime import build_runtime

    settings = Settings(database_url=f"sqlite:///{tmp_path / 'rt.db'}", admin_token="test-admin-token",
                        admin_token_generated=False, tokens=TEST_TOKENS)
    rt = await build_runtime(settings, demo_project, embedder=embedder)
    yield rt
    await rt.close()


@pytest.fixture
async def server(runtime: Runtime) -> AsyncIterator[str]:
    """The web app for ``runtime`` on a free port; yields its base URL."""
    from bot.testing.server import serve_app
    from connectors.web import create_app

    async with serve_app(create_app(runtime)) as base_url:
        yield base_url
