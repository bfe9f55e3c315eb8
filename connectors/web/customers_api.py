"""Ops API for data-subject requests (bearer token with the ``ops`` role; every call is audited).

Routes:
    GET  /api/ops/customers/{id}/export     everything held about the customer (JSON)
    POST /api/ops/customers/{id}/erase      ``{"confirm"?: N}``: erase; with two-person confirmation the first call
                                            answers 202 with the ``request_id`` a different operator confirms
    GET  /api/ops/customers/{id}/requests   the audit trail of the customer's exports and erasures

The audited actor is the token's principal. Customer ids are 1 to 128 printable characters.
"""

from __future__ import annotations

import json
import re

from aiohttp import web

from bot.customers.requests import ConfirmationRequired, DataRequests, UncoveredTables
from bot.kernel.errors import RequestError
from connectors.web.app import RUNTIME, error, read_json
from connectors.web.auth import require_role

CUSTOMER_ID = re.compile(r"^[A-Za-z0-9_.@:+-]{1,128}$")


def _requests(request: web.Request) -> tuple[DataRequests, str, str]:
    runtime = request.app[RUNTIME]
    principal = require_role(request, runtime.settings, "ops")
    customer_id = request.match_info["customer_id"]
    if not CUSTOMER_ID.match(customer_id):
        raise RequestError("the customer id must be 1 to 128 letters, digits or . _ @ : + -")
    requests = DataRequests(runtime.database, runtime.project, forget=runtime.engine.states.take)
    return requests, customer_id, principal.name


def _json(body: object, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, default=str))


async def export_customer(request: web.Request) -> web.Response:
    requests, customer_id, actor = _requests(request)
    try:
        return _json(await requests.export(customer_id, actor=actor))
    except UncoveredTables as exc:
        return error(500, str(exc))


async def erase_customer(request: web.Request) -> web.Response:
    requests, customer_id, actor = _requests(request)
    body = await read_json(request) if request.can_read_body else {}
    unknown = sorted(set(body) - {"confirm"})
    if unknown:
        raise RequestError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected 'confirm'")
    confirm = body.get("confirm")
    if confirm is not None and (not isinstance(confirm, int) or isinstance(confirm, bool) or confirm < 1):
        raise RequestError("'confirm' must be the id (a positive integer) of another operator's erasure request")
    try:
        erased = await requests.erase(customer_id, actor=actor, confirm=confirm)
    except ConfirmationRequired as pending:
        return _json({"pending": True, "request_id": pending.request_id, "reason": str(pending)}, status=202)
    except UncoveredTables as exc:
        return error(500, str(exc))
    return _json(erased.to_dict())


async def customer_requests(request: web.Request) -> web.Response:
    requests, customer_id, _ = _requests(request)
    return _json({"customer_id": customer_id, "requests": await requests.history(customer_id)})


def setup_routes(app: web.Application) -> None:
    """Mount the data-subject request routes (called by :func:`connectors.web.app.create_app`)."""
    app.router.add_get("/api/ops/customers/{customer_id}/export", export_customer)
    app.router.add_post("/api/ops/customers/{customer_id}/erase", erase_customer)
    app.router.add_get("/api/ops/customers/{customer_id}/requests", customer_requests)
