"""Two server processes share PostgreSQL and Redis: a scope switch on one is obeyed by the other at the next turn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.testing.workers import Worker, serve_workers
from tests.ops.polling import wait_for

ADMIN = "two-worker-admin-token"
OPS = {"Authorization": "Bearer ops-token-1234"}


@pytest.fixture
def workers(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[list[Worker]]:
    """Two healthy `careline serve` processes on one PostgreSQL schema and one Redis, with an ops token.

    They start one after the other and share this session's model cache, so the second loads what the
    first trained instead of both training at once.
    """
    env = {"CARELINE_ADMIN_TOKEN": ADMIN, "CARELINE_TOKENS": "olga:ops:ops-token-1234"}
    with serve_workers(2, database_url=pg_url, redis_url=redis_url, log_dir=tmp_path, env=env) as urls:
        yield urls


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    async with http.request(method, url, **kwargs) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_switch_on_one_worker_is_obeyed_by_the_other(workers: list[Worker]) -> None:
    """Automation off on worker A is adopted by worker B; B then hands the live conversation off with reason scope,
    and a rollback on B is adopted by A, which serves new conversations again."""
    a, b = workers
    async with aiohttp.ClientSession() as http:
        replies = await _json(http, "POST", a + "/webhooks/rest/webhook", json={"sender": "live", "message": "hello"})
        assert "Northwind" in replies[0]["text"]

        written = await _json(http, "PUT", a + "/api/ops/scope", headers=OPS,
                              json={"automation": False, "reason": "release 42 misbehaves"})
        async def b_obeys() -> bool:
            return bool((await _json(http, "GET", b + "/api/ops/scope", headers=OPS))["version"] == written["version"])

        await wait_for(b_obeys, within=10.0)

        await _json(http, "POST", b + "/webhooks/rest/webhook", json={"sender": "live", "message": "thanks"})
        tracker = await _json(http, "GET", b + "/conversations/live/tracker",
                              headers={"Authorization": f"Bearer {ADMIN}"})
        escalations = [e for e in tracker["events"] if e["event"] == "escalated"]
        assert len(escalations) == 1 and escalations[0]["reason"] == "scope"

        restored = await _json(http, "POST", b + "/api/ops/scope/rollback", headers=OPS,
                               json={"version": 1, "reason": "rolled back from B"})
        async def a_obeys() -> bool:
            return bool((await _json(http, "GET", a + "/api/ops/scope", headers=OPS))["version"] == restored["version"])

        await wait_for(a_obeys, within=10.0)
        replies = await _json(http, "POST", a + "/webhooks/rest/webhook", json={"sender": "next", "message": "hello"})
        assert "Northwind" in replies[0]["text"]
