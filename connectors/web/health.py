"""Liveness and readiness for orchestrators and load balancers.

Routes:
    GET /health   liveness: the process serves requests (cheap; touches no dependency)
    GET /ready    readiness: the database answers ``SELECT 1`` and, when configured, Redis answers a ping
                  and the event listener is subscribed; 503 naming each part that failed

A worker that is alive but not ready should get no traffic (its turns would answer 503) and should not be
restarted for it either: the database or Redis coming back makes it ready again.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable

from aiohttp import web

from bot.app.runtime import Runtime
from bot.kernel.errors import StoreError
from connectors.web.app import RUNTIME

#: Seconds each dependency has to answer a readiness probe.
PROBE_SECONDS = 2.0


async def readiness(runtime: Runtime, *, within: float = PROBE_SECONDS) -> dict[str, str]:
    """Each dependency of ``runtime`` mapped to ``"ok"`` or why it is not (probed concurrently)."""

    async def probe(check: Awaitable[None]) -> str:
        try:
            async with asyncio.timeout(within):
                await check
        except TimeoutError:
            return f"no answer within {within} s"
        except StoreError as exc:
            return str(exc)
        return "ok"

    engine = runtime.engine
    checks: dict[str, Awaitable[None]] = {"database": runtime.database.ping(within)}
    if runtime.settings.redis_url:
        checks["redis"] = engine.locks.ping()
        checks["event_bus"] = engine.bus.ping()
    results = await asyncio.gather(*(probe(check) for check in checks.values()))
    return dict(zip(checks, results, strict=True))


async def health(request: web.Request) -> web.Response:
    """``GET /health``: the process is up, what it serves, and which worker process answered."""
    runtime = request.app[RUNTIME]
    return web.json_response({
        "status": "ok",
        "worker": os.getpid(),
        "assistant": runtime.project.config.assistant_id,
        "database": runtime.database.dialect,
        "project_fingerprint": runtime.project.fingerprint[:12],
    })


async def ready(request: web.Request) -> web.Response:
    """``GET /ready``: 200 when every dependency answers, else 503 with ``{"checks": {part: reason}}``."""
    checks = await readiness(request.app[RUNTIME])
    ok = all(result == "ok" for result in checks.values())
    return web.json_response({"status": "ready" if ok else "unavailable", "checks": checks},
                             status=200 if ok else 503)


def setup_routes(app: web.Application) -> None:
    """Mount ``/health`` and ``/ready``."""
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
