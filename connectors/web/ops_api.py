"""Ops API for the roll-back switch (bearer token with the ``ops`` role).

Routes:
    GET  /api/ops/scope              the scope this worker obeys, with its version
    PUT  /api/ops/scope              partial update ``{"automation"?, "flows"?, "channels"?, "intents"?,
                                     "rollout"?, "reason"}``; answers the new version
    GET  /api/ops/scope/history      every version, newest first (``?limit=N``, at most 1000)
    POST /api/ops/scope/rollback     ``{"version": N, "reason"}``: restore version N as a new version

Bad bodies get 400 with the reason; an unknown version 404. Changes reach every worker within a second.
Every parameter is bounded: ``limit`` 1 to 1000, ``version`` an integer from 1 to
:data:`bot.ops.scope.MAX_VERSION` (not a boolean, a float or a string), channel names short
identifiers (at most :data:`MAX_CHANNELS` of them).
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot.kernel.errors import RequestError
from bot.ops.scope import ScopeService, check_version
from connectors.web.app import RUNTIME, query_int, read_json
from connectors.web.auth import require_role

SCOPE_KEYS = ("automation", "flows", "channels", "intents", "rollout")
MAX_LIMIT = 1000
#: A channel switch names a channel like ``web`` or ``voice``; at most this many channel switches per change.
CHANNEL_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_CHANNELS = 50


def check_channels(value: Any) -> None:
    """Channel switches name short identifiers (a typo or junk is a 400, not a stored switch)."""
    if not isinstance(value, dict):
        return  # merge_scope explains the expected shape
    if len(value) > MAX_CHANNELS:
        raise RequestError(f"'channels' has {len(value)} switches; at most {MAX_CHANNELS} per change")
    bad = [name for name in value if not CHANNEL_NAME.match(name)]
    if bad:
        raise RequestError(f"channel name {bad[0][:40]!r} is not a channel: use lowercase letters, digits, - "
                           "and _, at most 32 characters")


def _service(request: web.Request) -> tuple[ScopeService, str]:
    runtime = request.app[RUNTIME]
    principal = require_role(request, runtime.settings, "ops")
    if runtime.ops is None:
        raise web.HTTPServiceUnavailable(text='{"error": "the automation scope is not configured"}',
                                         content_type="application/json")
    return runtime.ops.scope, principal.name


async def get_scope(request: web.Request) -> web.Response:
    service, _ = _service(request)
    return web.json_response(service.current.to_dict())


async def put_scope(request: web.Request) -> web.Response:
    service, author = _service(request)
    body = await read_json(request)
    reason = body.pop("reason", None)
    unknown = sorted(set(body) - set(SCOPE_KEYS))
    if unknown:
        raise RequestError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected {list(SCOPE_KEYS)} and 'reason'")
    if not body:
        raise RequestError(f"nothing to change: give at least one of {list(SCOPE_KEYS)}")
    check_channels(body.get("channels"))
    version = await service.update(body, author=author, reason=reason)  # type: ignore[arg-type]
    return web.json_response(version.to_dict())


async def scope_history(request: web.Request) -> web.Response:
    service, _ = _service(request)
    limit = query_int(request, "limit", 100, 1, MAX_LIMIT)
    versions = await service.history(limit)
    return web.json_response({"current": service.current.version, "versions": [v.to_dict() for v in versions]})


async def rollback_scope(request: web.Request) -> web.Response:
    service, author = _service(request)
    body = await read_json(request)
    if "version" not in body:
        raise RequestError("'version' is required: the version to restore")
    unknown = sorted(set(body) - {"version", "reason"})
    if unknown:
        raise RequestError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected 'version' and 'reason'")
    target = check_version(body["version"])  # 400 for booleans, floats, strings, < 1 or > MAX_VERSION
    version = await service.rollback(target, author=author, reason=body.get("reason"))  # type: ignore[arg-type]
    return web.json_response(version.to_dict())


def setup_routes(app: web.Application) -> None:
    """Mount the ops routes (called by :func:`connectors.web.app.create_app`)."""
    app.router.add_get("/api/ops/scope", get_scope)
    app.router.add_put("/api/ops/scope", put_scope)
    app.router.add_get("/api/ops/scope/history", scope_history)
    app.router.add_post("/api/ops/scope/rollback", rollback_scope)
