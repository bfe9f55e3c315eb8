"""Faults of what the bot depends on: PostgreSQL refused, cut or stalled; Redis cut or blipping; a turn
retried after a concurrent write. Each answers 503 within a bound, tells the truth on ``/ready``, commits
nothing late and changes the business systems at most once.

The faults are real: a small TCP proxy between the bot and PostgreSQL/Redis that a test can cut (every
connection dropped, new ones refused) or stall (bytes held, as a hung server or a black-holed network).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
import redis.asyncio as redis
import structlog
from aiohttp import web

from bot.app.runtime import Runtime
from bot.flows.backend.demo import DemoBackend
from bot.infra.bus import RedisEventBus, Resync
from bot.infra.locks import RedisLocks
from bot.infra.settings import Settings
from bot.kernel.errors import ConcurrentWriteError, StoreError
from bot.kernel.events import AgentMessage, Event, UserUttered
from bot.kernel.messages import BotMessage, UserMessage
from bot.nlu.understander import Understander
from bot.pipeline.engine import Engine
from bot.pipeline.stages import Stage
from bot.pipeline.turn import ANSWERED, CONTINUE, StageResult, Turn
from bot.project import Project
from bot.storage import ConversationStore, open_database
from bot.testing.server import serve_app
from connectors.web import create_app, health
from tests.flows.conftest import flow_runner, make_runtime, understander  # noqa: F401 - the session fixture, shared

# --------------------------------------------------------------------------------------------- tools


class FaultyProxy:
    """A TCP proxy on a free loopback port to ``host:port`` that a test can :meth:`cut` or :meth:`stall`."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> FaultyProxy:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def url(self, url: str) -> str:
        """``url`` with its host and port replaced by the proxy's."""
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, f"127.0.0.1:{self.port}", parts.path, parts.query, ""))

    async def cut(self) -> None:
        """Drop every connection and refuse new ones (a server that went away)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        """Hold every byte in both directions from now on (a server that hangs)."""
        self._flowing.clear()

    def resume(self) -> None:
        """Deliver what was held and flow again."""
        self._flowing.set()

    async def close(self) -> None:
        self.resume()
        await self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        pipes = [asyncio.create_task(self._pipe(reader, up_writer)), asyncio.create_task(self._pipe(up_reader, writer))]
        self._tasks.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._tasks.difference_update(pipes)
        self._writers.difference_update((writer, up_writer))

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self._flowing.wait()
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass  # either side went away: the other is closed below
        finally:
            sink.transport.abort()


@pytest.fixture
async def pg_proxy(pg_url: str) -> AsyncIterator[FaultyProxy]:
    """A proxy in front of the test PostgreSQL server."""
    parts = urlsplit(pg_url)
    proxy = await FaultyProxy(parts.hostname or "127.0.0.1", parts.port or 5432).start()
    yield proxy
    await proxy.close()


@pytest.fixture
async def redis_proxy(redis_url: str) -> AsyncIterator[FaultyProxy]:
    """A proxy in front of the test Redis server."""
    parts = urlsplit(redis_url)
    proxy = await FaultyProxy(parts.hostname or "127.0.0.1", parts.port or 6379).start()
    yield proxy
    await proxy.close()


class Echo:
    """A one-stage turn: the bot repeats the message (enough to store a turn)."""

    name = "echo"

    async def run(self, turn: Turn) -> StageResult:
        turn.reply(BotMessage(f"echo: {turn.text}"))
        return ANSWERED


class StallOnce:
    """A stage that stalls the database proxy the first time it runs: the turn's commit hangs."""

    name = "stall_once"

    def __init__(self, proxy: FaultyProxy) -> None:
        self.proxy = proxy
        self.armed = False

    async def run(self, turn: Turn) -> StageResult:
        if self.armed:
            self.armed = False
            self.proxy.stall()
        return CONTINUE


async def light_runtime(project: Project, database_url: str, *, redis_url: str | None = None,
                        stages: list[Stage] | None = None, operation_timeout: float = 1.0) -> Runtime:
    """A runtime with an echo turn (no models) on ``database_url``, with Redis locks and bus when given."""
    from bot.infra.bus import EventBus

    database = await open_database(database_url, operation_timeout=operation_timeout)
    store = ConversationStore(database)
    await store.setup()
    bus = RedisEventBus(redis_url, channel=f"careline:test:{uuid.uuid4().hex}") if redis_url else EventBus()
    await bus.start()
    locks = RedisLocks(redis_url, prefix=f"careline:test:{uuid.uuid4().hex}:", wait=2.0) if redis_url else None
    engine = Engine(project, store, [*(stages or []), Echo()], locks=locks, bus=bus)
    settings = Settings(database_url=database_url, redis_url=redis_url, admin_token="test-admin-token",
                        admin_token_generated=False)
    return Runtime(settings, project, database, engine)


def web_app(runtime: Runtime) -> web.Application:
    """The served app with ``/ready`` (mounted here until the app mounts :mod:`connectors.web.health`)."""
    app = create_app(runtime)
    if not any(resource.canonical == "/ready" for resource in app.router.resources()):
        app.router.add_get("/ready", health.ready)
    return app


async def post(http: aiohttp.ClientSession, url: str, sender: str, text: str) -> tuple[int, float]:
    """POST a REST message; its status and how long the answer took."""
    began = time.monotonic()
    async with http.post(url + "/webhooks/rest/webhook", json={"sender": sender, "message": text}) as response:
        await response.read()
        return response.status, time.monotonic() - began


async def stored(pg_url: str, conversation_id: str) -> list[Event]:
    """The conversation's events read straight from PostgreSQL (no proxy)."""
    database = await open_database(pg_url)
    try:
        return (await ConversationStore(database).load(conversation_id)).events
    finally:
        await database.close()


# ------------------------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
async def test_a_refused_database_is_503_not_500(demo_project: Project, pg_url: str, pg_proxy: FaultyProxy) -> None:
    """Once PostgreSQL refuses connections, a message gets 503 (retry later), never a 500."""
    runtime = await light_runtime(demo_project, pg_proxy.url(pg_url))
    async with serve_app(web_app(runtime)) as url, aiohttp.ClientSession() as http:
        assert (await post(http, url, "c1", "hello"))[0] == 200
        await pg_proxy.cut()
        status, took = await post(http, url, "c1", "hello again")
        assert status == 503 and took < 5


@pytest.mark.postgres
async def test_ready_tells_the_database_is_down_while_health_stays_up(
        demo_project: Project, pg_url: str, pg_proxy: FaultyProxy) -> None:
    """``/ready`` is 200 with PostgreSQL up and 503 naming the database once it is cut; ``/health`` is liveness."""
    runtime = await light_runtime(demo_project, pg_proxy.url(pg_url))
    async with serve_app(web_app(runtime)) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/ready") as response:
            assert response.status == 200 and (await response.json())["checks"] == {"database": "ok"}
        await pg_proxy.cut()
        async with http.get(url + "/ready") as response:
            body = await response.json()
            assert response.status == 503 and body["status"] == "unavailable"
            assert body["checks"]["database"] != "ok"
        async with http.get(url + "/health") as response:
            assert response.status == 200


@pytest.mark.postgres
async def test_a_stalled_database_is_503_within_the_bound_and_commits_nothing_later(
        demo_project: Project, pg_url: str, pg_proxy: FaultyProxy) -> None:
    """PostgreSQL hanging mid-turn: the request gets 503 within the operation bound, and when the database
    comes back the abandoned turn is not committed after all."""
    stall = StallOnce(pg_proxy)
    runtime = await light_runtime(demo_project, pg_proxy.url(pg_url), stages=[stall], operation_timeout=1.0)
    timeout = aiohttp.ClientTimeout(total=15)
    async with serve_app(web_app(runtime)) as url, aiohttp.ClientSession(timeout=timeout) as http:
        assert (await post(http, url, "c1", "first"))[0] == 200
        stall.armed = True
        try:
            status, took = await post(http, url, "c1", "second")
        finally:
            pg_proxy.resume()
        assert status == 503 and took < 5
        await asyncio.sleep(1.5)
    texts = [e.text for e in await stored(pg_url, "c1") if isinstance(e, UserUttered)]
    assert texts == ["first"]


# ------------------------------------------------------------------------------------------------ Redis


@pytest.mark.redis
@pytest.mark.postgres
async def test_ready_tells_redis_is_down(demo_project: Project, pg_url: str, redis_url: str,
                                         redis_proxy: FaultyProxy) -> None:
    """With Redis cut, ``/ready`` is 503 naming Redis (the database is fine) and a turn is a StoreError (503)."""
    runtime = await light_runtime(demo_project, pg_url, redis_url=redis_proxy.url(redis_url))
    app = web_app(runtime)
    async with serve_app(app) as url, aiohttp.ClientSession() as http:
        async with http.get(url + "/ready") as response:
            assert response.status == 200, await response.text()
        await redis_proxy.cut()
        async with http.get(url + "/ready") as response:
            body = await response.json()
        assert response.status == 503
        assert body["checks"]["database"] == "ok" and body["checks"]["redis"] != "ok"
        with pytest.raises(StoreError):
            await runtime.engine.handle("c1", UserMessage("hello"))


async def _kill_bus_connections(redis_url: str, name: str) -> int:
    """``CLIENT KILL`` every pub/sub connection named ``name`` (this test's listeners only, not other
    processes' on the shared server); how many were killed."""
    admin = redis.from_url(redis_url)
    try:
        clients = await admin.client_list(_type="pubsub")
        mine = [c["id"] for c in clients if c.get("name") == name]
        for client_id in mine:
            await admin.execute_command("CLIENT", "KILL", "ID", client_id)
        return len(mine)
    finally:
        await admin.aclose()


@pytest.mark.redis
async def test_the_event_listener_reconnects_after_a_redis_blip(redis_url: str) -> None:
    """Killed by the server (``CLIENT KILL`` of its pub/sub connection), the listener logs the loss,
    reconnects, tells its subscribers to resync, and publications reach them again within seconds."""
    name = f"careline-test-{uuid.uuid4().hex[:8]}"
    channel = f"careline:test:{uuid.uuid4().hex}"
    listener = RedisEventBus(redis_url, channel=channel, client_name=name)
    publisher = RedisEventBus(redis_url, channel=channel, client_name=name + "-pub")
    await listener.start()
    await publisher.start()
    try:
        async with listener.subscribe("conv") as queue:
            with structlog.testing.capture_logs() as logs:
                assert await _kill_bus_connections(redis_url, name) == 1
                _, notice = await asyncio.wait_for(queue.get(), timeout=10)
                assert isinstance(notice, Resync)
                publisher.publish("conv", [AgentMessage(agent="amy", text="after the blip")])
                conversation_id, event = await asyncio.wait_for(queue.get(), timeout=5)
            assert conversation_id == "conv" and isinstance(event, AgentMessage) and event.text == "after the blip"
            events = [line["event"] for line in logs]
            assert "event_bus_disconnected" in events and "event_bus_reconnected" in events
    finally:
        await listener.close()
        await publisher.close()


@pytest.mark.redis
async def test_the_event_listener_keeps_retrying_while_redis_is_away(redis_url: str,
                                                                     redis_proxy: FaultyProxy) -> None:
    """Redis gone for a while (connections refused): the listener retries with backoff and comes back once
    Redis does; ``ping`` says it is down meanwhile."""
    channel = f"careline:test:{uuid.uuid4().hex}"
    listener = RedisEventBus(redis_proxy.url(redis_url), channel=channel, backoff=(0.05, 0.5))
    publisher = RedisEventBus(redis_url, channel=channel)
    await listener.start()
    await publisher.start()
    try:
        async with listener.subscribe(None) as queue:
            await redis_proxy.cut()
            await asyncio.sleep(1.0)
            with pytest.raises(StoreError):
                await listener.ping()
            await redis_proxy.start()  # the same port again
            _, notice = await asyncio.wait_for(queue.get(), timeout=10)
            assert isinstance(notice, Resync)
            publisher.publish("conv", [AgentMessage(agent="amy", text="back")])
            _, event = await asyncio.wait_for(queue.get(), timeout=5)
            assert isinstance(event, AgentMessage) and event.text == "back"
            await listener.ping()
    finally:
        await listener.close()
        await publisher.close()


# ------------------------------------------------------------------------------------- business actions


class FailFirstAppend(ConversationStore):
    """A store whose next append (once armed) loses a race: ConcurrentWriteError, nothing written."""

    armed = False

    async def append(self, conversation_id: str, events: Sequence[Event], *, expected_seq: int) -> int:
        if self.armed:
            self.armed = False
            raise ConcurrentWriteError("another writer appended first (test)")
        return await super().append(conversation_id, events, expected_seq=expected_seq)


async def test_a_turn_retried_after_a_concurrent_write_cancels_the_order_once(
        demo_project: Project, understander: Understander, tmp_path: Path) -> None:  # noqa: F811
    """The cancellation turn loses its first commit to a concurrent write and runs again: the backend
    cancels the order once and the customer hears it is cancelled (not "cannot be changed")."""
    runtime = await make_runtime(demo_project, understander, tmp_path)
    store = FailFirstAppend(runtime.database)
    runtime.engine.store = store
    backend = flow_runner(runtime).backend
    assert isinstance(backend, DemoBackend)
    try:
        for text in ("cancel my order", "ada@example.com", "10 December 1985", "A1002"):
            await runtime.engine.handle("c", UserMessage(text))
        store.armed = True
        replies = await runtime.engine.handle("c", UserMessage("yes please"))
        assert "is cancelled" in "\n".join(r.text for r in replies)
        assert [c["op"] for c in backend.changes] == ["cancel_order"]
        order = await backend.get_order("A1002")
        assert order is not None and order.status == "cancelled"
    finally:
        await runtime.database.close()


async def test_the_http_backend_sends_the_idempotency_key_and_the_server_applies_it_once() -> None:
    """A change repeated with the same Idempotency-Key over HTTP is applied once and answered alike."""
    from bot.flows.backend import DemoBackend, HttpBackend
    from bot.flows.backend.server import create_backend_app

    demo = DemoBackend.from_seed_file()
    async with serve_app(create_backend_app(demo)) as url:
        backend = HttpBackend(url)
        try:
            first = await backend.cancel_appointment("P2001", key="c:m1:cancel:P2001")
            again = await backend.cancel_appointment("P2001", key="c:m1:cancel:P2001")
            assert first == again and first.status == "cancelled"
            assert [c["key"] for c in demo.changes] == ["c:m1:cancel:P2001"]
        finally:
            await backend.close()
