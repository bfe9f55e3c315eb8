"""The widget's signed-in user: ``POST /widget/conversations/{id}/identity`` with ``{"token": JWT}``.

The embedding site's token (:mod:`bot.customers.identity`, format in docs/customers.md) verifies the widget
conversation for its ``sub`` without asking the customer again: 200 ``{"verified": true, "customer_id"}``.
Refusals say why: 400 malformed token or body, 401 bad signature / expired / wrong issuer or audience, 404
when ``customers.identity_token`` is not configured, 409 when the conversation is verified for someone else.
The same ``Origin`` allow-list as every widget route applies.
"""

from __future__ import annotations

import time

from aiohttp import web

from bot.customers.identity import signed_in
from bot.customers.store import Contact
from bot.infra.logs import get_logger
from bot.kernel.errors import RequestError
from connectors.web.app import read_json
from connectors.web.widget import _check_origin, _conversation_id, _cors, _settings, preflight

log = get_logger(__name__)


async def identity(request: web.Request) -> web.StreamResponse:
    runtime, config = _settings(request)
    _check_origin(request, config)
    conversation_id = _conversation_id(request.match_info["conversation_id"])
    if runtime.identity is None:
        return _cors(request, web.json_response(
            {"error": "signed identity tokens are not enabled (customers.identity_token in config.yml)"}, status=404))
    body = await read_json(request)
    unknown = sorted(set(body) - {"token"})
    if unknown or "token" not in body:
        raise RequestError("the body must be {\"token\": \"<JWT>\"}")
    now = time.time()
    try:
        who = runtime.identity.verify(body["token"], now=now)
    except RequestError as exc:
        log.warning("identity_token_refused", reason=str(exc), status=exc.status)
        raise
    await runtime.engine.record_with(conversation_id, lambda state: signed_in(state, who, now=now))
    if runtime.customers is not None:
        await runtime.customers.link(who.customer_id, conversation_id, channel="web",
                                     contacts=(Contact("device", conversation_id),), at=now)
    log.info("widget_identity_verified", customer_id=who.customer_id, issuer=who.issuer)
    return _cors(request, web.json_response({"verified": True, "customer_id": who.customer_id}))


def setup_routes(app: web.Application) -> None:
    """Mount the identity route (after :mod:`connectors.web.widget`)."""
    app.router.add_post("/widget/conversations/{conversation_id}/identity", identity)
    app.router.add_route("OPTIONS", "/widget/conversations/{conversation_id}/identity", preflight)
