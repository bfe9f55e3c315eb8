"""``careline serve --workers N``: N processes on one port, any of them answers, a killed one is replaced."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.testing.workers import free_port, wait_healthy

TOKEN = "workers-admin-token-1"


async def pids_seen(url: str, *, want: int, within: float, exclude: frozenset[int] = frozenset()) -> set[int]:
    """Distinct worker pids answering ``/health`` on fresh connections, until ``want`` of them (not in
    ``exclude``) were seen or ``within`` seconds passed."""
    seen: set[int] = set()
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        while time.monotonic() < deadline and len(seen - exclude) < want:
            try:
                async with http.get(url + "/health") as response:
                    seen.add(int((await response.json())["worker"]))
            except aiohttp.ClientError:
                await asyncio.sleep(0.2)
    return seen - exclude


@pytest.fixture
def supervisor(pg_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    env = {**os.environ, "CARELINE_REDIS_URL": redis_url, "CARELINE_ADMIN_TOKEN": TOKEN,
           "CARELINE_CACHE_DIR": str(tmp_path / "cache"), "CARELINE_LOG_LEVEL": "warning"}
    with (tmp_path / "serve.log").open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "careline", "serve", "--workers", "2", "--port", str(port),
             "--database", pg_url], env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process, within=300)
            yield url, process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_workers_share_the_port_and_a_killed_one_is_replaced(
        supervisor: tuple[str, subprocess.Popen[bytes]]) -> None:
    """Both workers answer on the one port; a conversation's turns go to either; ``kill -9`` of one is
    replaced by a new process while the other keeps answering; SIGTERM stops them all."""
    url, process = supervisor
    first = await pids_seen(url, want=2, within=60)
    assert len(first) == 2, first
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for text in ("hello", "are you a bot?", "thanks"):
            async with http.post(url + "/webhooks/rest/webhook", json={"sender": "w", "message": text}) as resp:
                assert resp.status == 200 and await resp.json()
        async with http.get(url + "/conversations/w/tracker", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
            tracker = await resp.json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hello", "are you a bot?", "thanks"]
    killed = min(first)
    os.kill(killed, signal.SIGKILL)
    replaced = await pids_seen(url, want=2, within=120, exclude=frozenset({killed}))
    assert len(replaced) == 2 and killed not in replaced, replaced
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    for pid in replaced:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_several_workers_need_redis(tmp_path: Path) -> None:
    """Without CARELINE_REDIS_URL, ``--workers 2`` refuses to start and says why."""
    env = {k: v for k, v in os.environ.items() if k != "CARELINE_REDIS_URL"}
    env["CARELINE_CACHE_DIR"] = str(tmp_path / "cache")
    result = subprocess.run(
        [sys.executable, "-m", "careline", "serve", "--workers", "2", "--port", str(free_port())],
        env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "needs CARELINE_REDIS_URL" in result.stderr
