"""Several workers share PostgreSQL and Redis: one conversation's turns stay ordered across processes, a
killed worker's lock frees itself within seconds, and a retried message is answered once whichever worker
gets it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.flows.backend import DemoBackend
from bot.flows.backend.server import create_backend_app
from bot.infra.bus import RedisEventBus
from bot.infra.settings import DEMO_PROJECT
from bot.kernel.events import AgentMessage
from bot.testing.server import serve_app
from bot.testing.workers import Worker, serve_workers

TOKEN = "multiworker-admin-token"


@pytest.fixture
def workers(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[list[Worker]]:
    """Two `careline serve` processes on one PostgreSQL schema and one Redis (the second reuses the first's cache)."""
    env = {"CARELINE_ADMIN_TOKEN": TOKEN, "CARELINE_CACHE_DIR": str(tmp_path / "cache")}
    with serve_workers(2, database_url=pg_url, redis_url=redis_url, log_dir=tmp_path, env=env) as urls:
        yield urls


@pytest.mark.postgres
@pytest.mark.redis
async def test_turns_of_one_conversation_stay_ordered_across_two_workers(workers: list[Worker]) -> None:
    """Ten concurrent messages to one conversation, split over two worker processes, never interleave."""
    async with aiohttp.ClientSession() as http:

        async def send(index: int) -> int:
            url = workers[index % 2] + "/webhooks/rest/webhook"
            async with http.post(url, json={"sender": "shared", "message": f'/greet{{"n": "{index}"}}'}) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(send(i) for i in range(10)))
        assert statuses == [200] * 10
        async with http.get(workers[1] + "/conversations/shared/tracker",
                            headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            tracker = await resp.json()
    kinds = [e["event"] for e in tracker["events"]]
    assert kinds == ["user", "flow_started", "flow_step", "bot", "flow_completed"] * 10
    users = sorted(e["text"] for e in tracker["events"] if e["event"] == "user")
    assert users == sorted(f'/greet{{"n": "{i}"}}' for i in range(10))


@pytest.mark.redis
async def test_events_published_on_one_worker_reach_listeners_on_another(redis_url: str) -> None:
    """An agent message recorded on worker A is delivered to a subscriber on worker B through Redis."""
    channel = f"careline:test:{os.getpid()}:{id(object())}"
    worker_a, worker_b = RedisEventBus(redis_url, channel=channel), RedisEventBus(redis_url, channel=channel)
    await worker_a.start()
    await worker_b.start()
    try:
        async with worker_b.subscribe("conv-1") as queue:
            worker_a.publish("conv-2", [AgentMessage(agent="amy", text="not for you")])
            worker_a.publish("conv-1", [AgentMessage(agent="amy", text="hello from A")])
            conversation_id, event = await asyncio.wait_for(queue.get(), timeout=5)
        assert conversation_id == "conv-1"
        assert isinstance(event, AgentMessage) and event.text == "hello from A"
        assert queue.empty()
    finally:
        await worker_a.close()
        await worker_b.close()


async def _post(http: aiohttp.ClientSession, worker: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(worker + "/webhooks/rest/webhook", json=body) as resp:
        return resp.status, await resp.json(content_type=None)


async def _tracker(http: aiohttp.ClientSession, worker: str, conversation_id: str) -> dict[str, Any]:
    async with http.get(f"{worker}/conversations/{conversation_id}/tracker",
                        headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200, await resp.text()
        tracker: dict[str, Any] = await resp.json()
        return tracker


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_retried_message_is_stored_once_whichever_worker_gets_it(workers: list[Worker]) -> None:
    """One message id sent to both workers at once, then again after: one stored message, one answer."""
    body = {"sender": "retry", "message": "hello", "message_id": "msg-1"}
    async with aiohttp.ClientSession() as http:
        first = await asyncio.gather(_post(http, workers[0], body), _post(http, workers[1], body))
        later = await _post(http, workers[1], body)
        tracker = await _tracker(http, workers[0], "retry")
    assert [status for status, _ in first] == [200, 200] and later[0] == 200
    texts = {tuple(reply["text"] for reply in replies) for _, replies in (*first, later)}
    assert len(texts) == 1 and next(iter(texts))
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hello"]


class Gate:
    """Holds the first backend call made once armed, until released (a worker's turn stuck holding its lock)."""

    def __init__(self) -> None:
        self.armed = False
        self.reached = asyncio.Event()
        self.release = asyncio.Event()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.armed:
            self.armed = False
            self.reached.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.release.wait(), timeout=60)
        response: web.StreamResponse = await handler(request)
        return response


@pytest.fixture
async def backed_workers(pg_url: str, redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[list[Worker], Gate]]:
    """Two workers of a copy of the demo whose business backend is served by this test (through a Gate)."""
    gate = Gate()
    app = create_backend_app(DemoBackend.from_seed_file())
    app.middlewares.append(gate.middleware)
    async with serve_app(app) as backend_url:
        project = tmp_path / "project"
        shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline"))
        with (project / "config.yml").open("a", encoding="utf-8") as config:
            config.write(f"\nbackend:\n  type: http\n  url: {backend_url}\nchannels:\n  rest:\n    open: true\n")
        env = {"CARELINE_ADMIN_TOKEN": TOKEN, "CARELINE_CACHE_DIR": str(tmp_path / "cache")}
        with contextlib.ExitStack() as stack:
            urls = await asyncio.to_thread(stack.enter_context, serve_workers(
                2, database_url=pg_url, redis_url=redis_url, log_dir=tmp_path, env=env, project=project))
            try:
                yield urls, gate
            finally:
                gate.release.set()
                await asyncio.to_thread(stack.close)


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_killed_workers_lock_frees_within_seconds(backed_workers: tuple[list[Worker], Gate]) -> None:
    """``kill -9`` of a worker mid-turn (holding the conversation's lock): the other worker answers the same
    conversation within seconds (the dead worker's lease runs out), not after a 30 s lock timeout."""
    (worker_a, worker_b), gate = backed_workers
    gate.armed = True
    async with aiohttp.ClientSession() as http:
        stuck: list[asyncio.Task[Any]] = []
        for text in ("where is my order?", "ada@example.com", "10 December 1985"):
            stuck.append(asyncio.create_task(_post(http, worker_a, {"sender": "crash", "message": text})))
            reached = asyncio.create_task(gate.reached.wait())
            await asyncio.wait({stuck[-1], reached}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
            reached.cancel()
            if gate.reached.is_set():
                break
        assert gate.reached.is_set(), "the turn never reached the backend"
        worker_a.kill()
        began = time.monotonic()
        status, replies = await _post(http, worker_b, {"sender": "crash", "message": "10 December 1985"})
        took = time.monotonic() - began
        await asyncio.gather(*stuck, return_exceptions=True)
    assert status == 200, replies
    assert took < 10, f"the conversation stayed locked {took:.1f} s after its worker died"
