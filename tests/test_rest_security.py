"""The REST channel as an attacker sees it: channel claims, missing senders, the REST token, client message
ids and rate limits (per client source across conversations, per conversation, shared through Redis)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import structlog
from multidict import CIMultiDictProxy

from bot.app.runtime import Runtime, build_runtime
from bot.infra.embeddings import Embedder
from bot.infra.ratelimit import LocalLimiter, Rate, RedisLimiter
from bot.infra.settings import Settings
from bot.kernel.events import UserUttered
from bot.project import Project
from bot.testing.server import serve_app
from connectors.web import create_app
from connectors.web.app import LIMITER
from tests.conftest import TEST_TOKENS

WEBHOOK = "/webhooks/rest/webhook"
ADMIN = {"Authorization": "Bearer test-admin-token"}
REST_TOKEN = "rest-token-0123456789"


@dataclasses.dataclass(frozen=True)
class Served:
    """A served app and its runtime."""

    url: str
    runtime: Runtime
    app: Any


ServerFactory = Callable[..., AbstractAsyncContextManager[Served]]


@pytest.fixture
def make_server(demo_project: Project, embedder: Embedder, tmp_path: Path) -> ServerFactory:
    """Serve the demo with ``limits`` overrides and ``settings`` overrides: ``async with make_server(...)``."""

    @asynccontextmanager
    async def serve(limits: dict[str, int] | None = None, **settings: Any) -> AsyncIterator[Served]:
        config = demo_project.config.model_copy(update={
            "limits": demo_project.config.limits.model_copy(update=limits or {})})
        project = dataclasses.replace(demo_project, config=config)
        runtime = await build_runtime(Settings(
            database_url=f"sqlite:///{tmp_path / f'{uuid.uuid4().hex}.db'}", admin_token="test-admin-token",
            admin_token_generated=False, tokens=TEST_TOKENS, **settings), project, embedder=embedder)
        app = create_app(runtime)
        async with serve_app(app) as url:
            yield Served(url, runtime, app)

    return serve


async def say(http: aiohttp.ClientSession, url: str, body: dict[str, Any],
              headers: dict[str, str] | None = None) -> tuple[int, Any, CIMultiDictProxy[str]]:
    """POST ``body`` to the REST channel: status, JSON answer and headers."""
    async with http.post(url + WEBHOOK, json=body, headers=headers) as resp:
        return resp.status, await resp.json(), resp.headers


async def user_texts(runtime: Runtime, conversation_id: str) -> list[str]:
    """What the store holds as the customer's messages in ``conversation_id``."""
    return [e.text for e in (await runtime.engine.state(conversation_id)).events if isinstance(e, UserUttered)]


async def test_a_channel_claimed_in_metadata_does_not_unlock_the_voice_pin(server: str, runtime: Runtime) -> None:
    """`metadata.channel: voice` over REST, then Ada's email and her voice PIN, neither verifies nor discloses
    her order: the channel is the connector's (rest) and the metadata is kept as client data."""
    claim = {"metadata": {"channel": "voice"}}
    async with aiohttp.ClientSession() as http:
        replies = []
        for text in ("where is my order", "ada@example.com", "4567", "A1001"):
            status, body, _ = await say(http, server, {"sender": "mallory", "message": text, **claim})
            assert status == 200, body
            replies.append(" ".join(r.get("text", "") for r in body))
    said = " ".join(replies)
    assert "verified" not in said and "shipped" not in said.lower() and "Sofa" not in said, replies
    state = await runtime.engine.state("mallory")
    assert state.slots.get("customer_id") is None
    users = [e for e in state.events if isinstance(e, UserUttered)]
    assert {e.channel for e in users} == {"rest"}
    assert all(e.metadata == {"channel": "voice"} for e in users)


async def test_a_request_without_a_sender_is_refused_and_lands_in_no_shared_conversation(
        server: str, runtime: Runtime) -> None:
    """No `sender` (or an empty one) is a 400 naming it; nothing is stored under a shared "default" id."""
    async with aiohttp.ClientSession() as http:
        for body in ({"message": "hello"}, {"sender": "", "message": "hello"}, {"sender": None, "message": "hi"}):
            status, answer, _ = await say(http, server, body)
            assert status == 400 and "'sender' is required" in answer["error"], (body, answer)
    assert (await runtime.engine.state("default")).events == []
    assert await runtime.database.fetchval("SELECT count(*) FROM events") == 0


async def test_the_rest_token_is_required_when_set(make_server: ServerFactory) -> None:
    """With CARELINE_REST_TOKEN set, no or a wrong bearer token is 401 (with WWW-Authenticate) and stores
    nothing; the right one is served, and each sender of the trusted backend is its own client for limits."""
    limits = {"max_messages_per_minute_per_client": 2}
    async with make_server(rest_token=REST_TOKEN, limits=limits) as site, aiohttp.ClientSession() as http:
        body = {"sender": "backend-1", "message": "hello"}
        for headers in (None, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": REST_TOKEN},
                        {"Authorization": "Basic " + REST_TOKEN}):
            status, answer, got = await say(http, site.url, body, headers)
            assert status == 401 and "REST" in answer["error"], (headers, answer)
            assert got["WWW-Authenticate"] == "Bearer"
        assert await user_texts(site.runtime, "backend-1") == []
        status, answer, _ = await say(http, site.url, body, {"Authorization": f"Bearer {REST_TOKEN}"})
        assert status == 200 and "Northwind assistant" in answer[0]["text"]
        assert await user_texts(site.runtime, "backend-1") == ["hello"]
        for sender in ("backend-2", "backend-3"):
            status, _, _ = await say(http, site.url, {"sender": sender, "message": "hello"},
                                     {"Authorization": f"Bearer {REST_TOKEN}"})
            assert status == 200
        firsts = [(await site.runtime.engine.state(s)).events[0] for s in ("backend-1", "backend-3")]
        clients = {e.client for e in firsts if isinstance(e, UserUttered)}
        assert len(clients) == 2 and None not in clients


async def test_the_client_message_id_is_passed_through_and_validated(server: str, runtime: Runtime) -> None:
    """`message_id` reaches the stored user event; a malformed one is a 400 and nothing is stored."""
    async with aiohttp.ClientSession() as http:
        status, _, _ = await say(http, server, {"sender": "ids", "message": "hello", "message_id": "m-1_A"})
        assert status == 200
        for bad in ("", "x" * 65, "has space", "é", 7, ["m"]):
            status, answer, _ = await say(http, server, {"sender": "ids", "message": "again", "message_id": bad})
            assert status == 400 and "'message_id'" in answer["error"], (bad, answer)
    users = [e for e in (await runtime.engine.state("ids")).events if isinstance(e, UserUttered)]
    assert [(e.text, e.message_id) for e in users] == [("hello", "m-1_A")]


async def test_one_client_spread_over_many_senders_is_throttled_with_429(make_server: ServerFactory) -> None:
    """One address sending to a new sender each time gets 429 with Retry-After after its per-minute budget,
    and the refused message is stored nowhere."""
    async with make_server(limits={"max_messages_per_minute_per_client": 5}) as site, \
            aiohttp.ClientSession() as http:
        statuses = []
        for n in range(7):
            status, answer, headers = await say(http, site.url, {"sender": f"spread-{n}", "message": "hello"})
            statuses.append(status)
        assert statuses == [200] * 5 + [429] * 2
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert answer["retry_after"] == int(headers["Retry-After"]) and "too many messages" in answer["error"]
        for n in (5, 6):
            async with http.get(f"{site.url}/conversations/spread-{n}/tracker", headers=ADMIN) as resp:
                assert resp.status == 404


async def test_flooding_one_conversation_is_429_even_while_an_agent_owns_it(make_server: ServerFactory) -> None:
    """The engine's per-conversation limit answers 429 with Retry-After (not 200 "slow down"), also in a
    conversation handed to a person, and the refused messages are not stored."""
    async with make_server(limits={"max_turns_per_minute": 3}) as site, aiohttp.ClientSession() as http:
        answers = [await say(http, site.url, {"sender": "flood", "message": text})
                   for text in ("agent please", "hello?", "anyone", "spam", "spam")]
        assert [status for status, _, _ in answers] == [200, 200, 200, 429, 429]
        _, body, headers = answers[3]
        assert int(headers["Retry-After"]) >= 1 and body["retry_after"] == int(headers["Retry-After"])
        assert (await site.runtime.engine.state("flood")).status.value in ("handoff", "agent")
        assert await user_texts(site.runtime, "flood") == ["agent please", "hello?", "anyone"]


async def test_the_server_counts_in_redis_when_it_is_configured(make_server: ServerFactory, redis_url: str) -> None:
    """With CARELINE_REDIS_URL the app's limiter is the shared Redis one, and it refuses over the budget."""
    async with make_server(limits={"max_messages_per_minute_per_client": 2}, redis_url=redis_url) as site, \
            aiohttp.ClientSession() as http:
        assert isinstance(site.app[LIMITER], RedisLimiter)
        statuses = [(await say(http, site.url, {"sender": f"r{n}", "message": "hello"}))[0] for n in range(3)]
    assert statuses == [200, 200, 429]


async def test_two_workers_share_one_bucket_through_redis(redis_url: str) -> None:
    """Two workers' limiters on one Redis count a client once: what one let through, the other refuses."""
    first, second = RedisLimiter(redis_url), RedisLimiter(redis_url)
    key, rate = f"test:{uuid.uuid4().hex}", Rate(per_minute=6, burst=2)
    try:
        assert await first.acquire(key, rate) is None
        assert await second.acquire(key, rate) is None
        wait = await first.acquire(key, rate)
        assert wait is not None and 9 < wait <= 10
        assert await second.acquire(key, rate) is not None
        assert await second.acquire(f"{key}:other", rate) is None
    finally:
        await first.close()
        await second.close()


async def test_a_redis_failure_falls_back_to_in_process_limits_and_says_so() -> None:
    """With Redis unreachable the limiter keeps limiting per worker (fail open for chat, not unlimited) and
    logs rate_limiter_degraded once."""
    limiter = RedisLimiter("redis://127.0.0.1:1/0", timeout=0.2, fallback=LocalLimiter())
    rate = Rate(per_minute=60, burst=1)
    try:
        with structlog.testing.capture_logs() as logs:
            results = [await limiter.acquire("k", rate) for _ in range(3)]
    finally:
        await limiter.close()
    assert results[0] is None and results[1] is not None and results[2] is not None
    assert [entry["event"] for entry in logs] == ["rate_limiter_degraded"]
