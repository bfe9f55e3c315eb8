"""Several workers share PostgreSQL and Redis: one conversation's turns stay ordered across processes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.bus import RedisEventBus
from bot.events import AgentMessage
from bot.testing.workers import serve_workers

TOKEN = "multiworker-admin-token"


@pytest.fixture
def workers(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[list[str]]:
    """Two `careline serve` processes on one PostgreSQL schema and one Redis (the second reuses the first's cache)."""
    env = {"CARELINE_ADMIN_TOKEN": TOKEN, "CARELINE_CACHE_DIR": str(tmp_path / "cache")}
    with serve_workers(2, database_url=pg_url, redis_url=redis_url, log_dir=tmp_path, env=env) as urls:
        yield urls


@pytest.mark.postgres
@pytest.mark.redis
async def test_turns_of_one_conversation_stay_ordered_across_two_workers(workers: list[str]) -> None:
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
