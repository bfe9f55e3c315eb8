"""The ops console: the page, KPIs as JSON, what the page needs to draw its switches, and Prometheus metrics.

Routes (every ``/api/ops/*`` route and ``/metrics`` need a bearer token with the ops role; the page
itself holds no data and asks for the token):

    GET /ops                      the console (static HTML/JS/CSS under ``static/ops``)
    GET /ops/static/{name}        its assets
    GET /api/ops/kpis?window=7d   KPIs (``hour``, ``day``, ``7d`` or any duration like ``30m``)
    GET /api/ops/console          flows, intents and channels to switch, KPI windows, breaker bounds and live rates
    GET /metrics                  Prometheus text format

The scope itself (switches, history, rollback, audit) is served by :mod:`connectors.web.ops_api`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.analytics import CONSOLE_WINDOWS, compute_kpis, window
from bot.analytics.facts import ensure_indexes, queue_length
from bot.analytics.metrics import CONTENT_TYPE_LATEST, Metrics, SharedState, count_trips
from bot.logs import get_logger
from bot.runtime import Runtime
from connectors.web.app import RUNTIME
from connectors.web.auth import require_role

log = get_logger(__name__)

STATIC = Path(__file__).parent / "static" / "ops"
METRICS: web.AppKey[Metrics] = web.AppKey("ops_metrics", Metrics)
#: Channels every deployment can receive; channels seen in conversations are added.
KNOWN_CHANNELS = ("web", "rest", "voice")
_ASSETS = {"console.js": "text/javascript", "console.css": "text/css", "chart.js": "text/javascript"}


def _runtime(request: web.Request) -> Runtime:
    runtime = request.app[RUNTIME]
    require_role(request, runtime.settings, "ops")
    return runtime


async def page(request: web.Request) -> web.FileResponse:
    """The console's HTML (public: it holds no data, every call it makes carries the ops token)."""
    return web.FileResponse(STATIC / "index.html", headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'",
    })


async def asset(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in _ASSETS:
        raise web.HTTPNotFound(text=f'{{"error": "no asset {name!r}"}}', content_type="application/json")
    return web.FileResponse(STATIC / name, headers={"Content-Type": f"{_ASSETS[name]}; charset=utf-8",
                                                   "Cache-Control": "no-cache"})


async def kpis(request: web.Request) -> web.Response:
    """KPIs of one window as JSON (see :class:`bot.analytics.KpiReport`)."""
    runtime = _runtime(request)
    label = request.query.get("window", "day")
    report = await compute_kpis(runtime.database, window(label, until=time.time()))
    return web.json_response(report.to_dict())


async def console(request: web.Request) -> web.Response:
    """What the page needs besides the scope: the names it can switch, the KPI windows, the breaker."""
    runtime = _runtime(request)
    project = runtime.project
    rows = await runtime.database.fetch("SELECT DISTINCT channel FROM conversations WHERE channel IS NOT NULL")
    channels = sorted(set(KNOWN_CHANNELS) | {r["channel"] for r in rows})
    return web.json_response({
        "assistant": project.config.assistant_id,
        "flows": sorted(project.flows),
        "intents": sorted(project.nlu.intents),
        "channels": channels,
        "windows": list(CONSOLE_WINDOWS),
        "breaker": _breaker(runtime),
    })


def _breaker(runtime: Runtime) -> dict[str, Any]:
    """The breaker's bounds and, per flow it has seen, the current rolling rates."""
    config = runtime.project.guardrails.breaker
    out: dict[str, Any] = {"bounds": config.model_dump(exclude={"notify_url"}), "flows": {}}
    guardrails = getattr(runtime, "guardrails", None)
    breaker = getattr(guardrails, "breaker", None)
    for flow, turns in sorted((getattr(breaker, "windows", None) or {}).items()):
        records = list(turns)
        n = len(records) or 1
        out["flows"][flow] = {
            "turns": len(records),
            "escalation_rate": round(sum(r.escalated for r in records) / n, 4),
            "negative_rate": round(sum(r.negative for r in records) / n, 4),
            "error_rate": round(sum(r.error for r in records) / n, 4),
        }
    return out


async def shared_state(runtime: Runtime) -> SharedState:
    """Queue length, scope and breaker trips as the store has them now."""
    scope_service = getattr(getattr(runtime, "guardrails", None), "scope", None)
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
    app.router.add_get("/ops", page)
    app.router.add_get("/ops/static/{name}", asset)
    app.router.add_get("/api/ops/kpis", kpis)
    app.router.add_get("/api/ops/console", console)
    app.router.add_get("/metrics", metrics)
