"""The ops console: the page, KPIs as JSON, what the page needs to draw its switches, and Prometheus metrics.

Routes (every ``/api/ops/*`` route and ``/metrics`` need a bearer token with the ops role; the page
itself holds no data and asks for the token):

    GET /ops                      the console (static HTML/JS/CSS under ``static/ops``)
    GET /ops/static/{name}        its assets
    GET /api/ops/kpis?window=7d   KPIs (``hour``, ``day``, ``7d`` or any duration like ``30m``, at most 366 days)
    GET /api/ops/console          flows, intents and channels to switch, KPI windows, breaker bounds and live rates
    GET /metrics                  Prometheus text format

The scope itself (switches, history, rollback, audit) is served by :mod:`connectors.web.ops_api`.

Every parameter is bounded (400 naming the bound beyond it); a KPI read is cancelled when its client goes
away (:func:`until_disconnected`). The page and its assets may not be framed (CSP ``frame-ancestors 'none'``
and ``X-Frame-Options: DENY``, see :func:`connectors.web.agent_console.deny_framing`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from bot.analytics import CONSOLE_WINDOWS, compute_kpis, window
from bot.analytics.facts import ensure_indexes, queue_length
from bot.analytics.metrics import CONTENT_TYPE_LATEST, Metrics, SharedState, count_trips
from bot.app.runtime import Runtime
from bot.infra.logs import get_logger
from connectors.web.agent_console import deny_framing
from connectors.web.app import RUNTIME
from connectors.web.auth import require_role

log = get_logger(__name__)

STATIC = Path(__file__).parent / "static" / "ops"
METRICS: web.AppKey[Metrics] = web.AppKey("ops_metrics", Metrics)
#: The channels this server's connectors receive on: the only names the switch list offers (a conversation's
#: stored channel is never read for it, so no client can put a name there).
KNOWN_CHANNELS = ("rest", "web", "voice")
#: How often a long ops read checks that its client is still connected.
DISCONNECT_POLL_SECONDS = 0.2
_ASSETS = {"console.js": "text/javascript", "console.css": "text/css", "chart.js": "text/javascript",
           "qa.js": "text/javascript"}


def _runtime(request: web.Request) -> Runtime:
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "ops")
    return runtime


async def page(request: web.Request) -> web.FileResponse:
    """The console's HTML (public: it holds no data, every call it makes carries the ops token)."""
    return web.FileResponse(STATIC / "index.html", headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                                   "frame-ancestors 'none'",
    })


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound(text=f'{{"error": "no asset {name!r}"}}', content_type="application/json")
    return web.FileResponse(STATIC / name, headers={"Content-Type": f"{_ASSETS[name]}; charset=utf-8",
                                                   "Cache-Control": "no-cache"})


T = TypeVar("T")


async def until_disconnected(request: web.Request, work: Awaitable[T]) -> T:
    """``work``'s result; when the client goes away first (or the handler is cancelled), ``work`` is cancelled
    and ``ops_read_abandoned`` logged. (aiohttp cancels handlers on disconnect only with ``handler_cancellation``
    on, so this polls the connection.)"""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_SECONDS)
            if done:
                return task.result()
            transport = request.transport
            if transport is None or transport.is_closing():
                log.info("ops_read_abandoned", path=request.path)
                raise web.HTTPServiceUnavailable(text='{"error": "the client went away"}',
                                                 content_type="application/json")
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def kpis(request: web.Request) -> web.Response:
    """KPIs of one window as JSON (see :class:`bot.analytics.KpiReport`); ``window`` is at most 366 days."""
    runtime = _runtime(request)
    label = request.query.get("window", "day")
    selected = window(label, until=time.time())  # BadWindow (400) names the bound
    report = await until_disconnected(request, compute_kpis(runtime.database, selected))
    return web.json_response(report.to_dict())


async def console(request: web.Request) -> web.Response:
    """What the page needs besides the scope: the names it can switch, the KPI windows, the breaker."""
    runtime = _runtime(request)
    project = runtime.project
    return web.json_response({
        "assistant": project.config.assistant_id,
        "flows": sorted(project.flows),
        "intents": sorted(project.nlu.intents),
        "channels": channels(runtime),
        "windows": list(CONSOLE_WINDOWS),
        "breaker": _breaker(runtime),
    })


def channels(runtime: Runtime) -> list[str]:
    """The channels the switch list offers: :data:`KNOWN_CHANNELS` and those ops already switched (names
    only the ops token can write); never a channel name read from stored conversations."""
    scope_service = getattr(getattr(runtime, "ops", None), "scope", None)
    switched = set(scope_service.scope.channels) if scope_service is not None else set()
    return [*KNOWN_CHANNELS, *sorted(switched - set(KNOWN_CHANNELS))]


def _breaker(runtime: Runtime) -> dict[str, Any]:
    """The breaker's bounds and, per flow it has seen, the current rolling rates (over distinct conversations,
    every client weighing the same: see :mod:`bot.ops.breaker`)."""
    config = runtime.project.guardrails.breaker
    breaker = getattr(getattr(runtime, "ops", None), "breaker", None)
    bounds = config.model_dump(exclude={"notify_url"})
    bounds.setdefault("min_conversations", getattr(breaker, "min_conversations", None))
    bounds.setdefault("min_clients", getattr(breaker, "min_clients", None))
    return {"bounds": bounds, "flows": breaker.rates() if breaker is not None else {}}


async def shared_state(runtime: Runtime) -> SharedState:
    """Queue length, scope and breaker trips as the store has them now."""
    scope_service = getattr(getattr(runtime, "ops", None), "scope", None)
    if scope_service is None:
        return SharedState(queue_length=await queue_length(runtime.database))
    current = scope_service.current
    history = [v.to_dict() for v in await scope_service.history(limit=10_000)]
    return SharedState(queue_length=await queue_length(runtime.database), scope=current.scope.model_dump(),
                       scope_version=current.version, breaker_trips=count_trips(history))


async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics (ops role: scrape with ``authorization: {credentials: TOKEN}``)."""
    runtime = _runtime(request)
    registry = request.app[METRICS]
    registry.refresh(await shared_state(runtime))
    response = web.Response(body=registry.render())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


def setup_routes(app: web.Application) -> None:
    """Mount the console, the KPI API and ``/metrics``; hook the metrics on the engine."""
    runtime = app[RUNTIME]
    app[METRICS] = Metrics()
    runtime.engine.observers.append(app[METRICS].observe)

    async def prepare(_app: web.Application) -> None:
        await ensure_indexes(runtime.database)

    app.on_startup.append(prepare)
    deny_framing(app, "/ops")
    app.router.add_get("/ops", page)
    app.router.add_get("/ops/static/{name}", asset)
    app.router.add_get("/api/ops/kpis", kpis)
    app.router.add_get("/api/ops/console", console)
    app.router.add_get("/metrics", metrics)
