"""Serve any :class:`Backend` over the JSON protocol :class:`~.http.HttpBackend` speaks.

Useful as a reference implementation for integrators and to test the adapter over a real socket. A change's
``Idempotency-Key`` header is handed to the backend as its ``key`` (applied at most once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from aiohttp import web

from bot.flows.backend.base import Backend, BackendConflict, Verification

BACKEND = web.AppKey("backend", Backend)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any) -> web.Response:
    return web.json_response(data)


def create_backend_app(backend: Backend) -> web.Application:
    """An aiohttp app exposing ``backend``."""

    @web.middleware
    async def conflicts(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except BackendConflict as exc:
            status = 404 if exc.code == "not_found" else 409
            return web.json_response({"error": str(exc), "code": exc.code}, status=status)

    def b(request: web.Request) -> Backend:
        return request.app[BACKEND]

    def key(request: web.Request) -> str | None:
        return request.headers.get("Idempotency-Key") or None

    async def lookup(request: web.Request) -> web.Response:
        customer = await b(request).find_customer(request.query.get("identifier", ""))
        if customer is None:
            raise web.HTTPNotFound()
        return _json({"id": customer.id, "name": customer.name})

    async def verify(request: web.Request) -> web.Response:
        body = await request.json()
        field = {k: str(body[k]) if k in body else None for k in ("date_of_birth", "postcode", "pin", "code")}
        proof = Verification(date_of_birth=field["date_of_birth"], postcode=field["postcode"], pin=field["pin"],
                             code=field["code"])
        ok = await b(request).verify(request.match_info["id"], proof)
        return _json({"verified": ok})

    async def codes(request: web.Request) -> web.Response:
        return _json({"sent_to": await b(request).send_code(request.match_info["id"])})

    async def orders(request: web.Request) -> web.Response:
        return _json([o.to_dict() for o in await b(request).list_orders(request.match_info["id"])])

    async def order(request: web.Request) -> web.Response:
        found = await b(request).get_order(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        return _json(found.to_dict())

    async def address(request: web.Request) -> web.Response:
        body = await request.json()
        changed = await b(request).change_address(request.match_info["id"], str(body["address"]), key=key(request))
        return _json(changed.to_dict())

    async def cancel(request: web.Request) -> web.Response:
        return _json((await b(request).cancel_order(request.match_info["id"], key=key(request))).to_dict())

    async def problems(request: web.Request) -> web.Response:
        body = await request.json()
        ref = await b(request).report_problem(request.match_info["id"], str(body["kind"]), str(body.get("note", "")),
                                              key=key(request))
        return _json({"reference": ref})

    async def appointments(request: web.Request) -> web.Response:
        return _json([a.to_dict() for a in await b(request).list_appointments(request.match_info["id"])])

    async def free(request: web.Request) -> web.Response:
        limit = int(request.query.get("limit", "3"))
        return _json([s.to_dict() for s in await b(request).free_slots(request.match_info["id"], limit)])

    async def appointments_on(request: web.Request) -> web.Response:
        return _json([a.to_dict() for a in await b(request).appointments_on(request.query.get("day", ""))])

    async def delayed(request: web.Request) -> web.Response:
        return _json([o.to_dict() for o in await b(request).delayed_orders(request.query.get("today", ""))])

    async def contact(request: web.Request) -> web.Response:
        found = await b(request).contact(request.match_info["id"])
        if found is None:
            raise web.HTTPNotFound()
        return _json(asdict(found))

    async def appointment_action(request: web.Request) -> web.Response:
        backend, ident, verb = b(request), request.match_info["id"], request.match_info["verb"]
        if verb == "confirm":
            result = await backend.confirm_appointment(ident, key=key(request))
        elif verb == "cancel":
            result = await backend.cancel_appointment(ident, key=key(request))
        elif verb == "reschedule":
            result = await backend.reschedule_appointment(ident, str((await request.json())["start"]), key=key(request))
        else:
            raise web.HTTPNotFound()
        return _json(result.to_dict())

    app = web.Application(middlewares=[conflicts])
    app[BACKEND] = backend
    app.router.add_get("/customers/lookup", lookup)
    app.router.add_post("/customers/{id}/verify", verify)
    app.router.add_post("/customers/{id}/codes", codes)
    app.router.add_get("/customers/{id}/orders", orders)
    app.router.add_get("/customers/{id}/appointments", appointments)
    app.router.add_get("/customers/{id}/contact", contact)
    app.router.add_get("/appointments", appointments_on)
    app.router.add_get("/orders/delayed", delayed)
    app.router.add_get("/orders/{id}", order)
    app.router.add_post("/orders/{id}/address", address)
    app.router.add_post("/orders/{id}/cancel", cancel)
    app.router.add_post("/orders/{id}/problems", problems)
    app.router.add_get("/appointments/{id}/free-slots", free)
    app.router.add_post("/appointments/{id}/{verb}", appointment_action)
    return app
