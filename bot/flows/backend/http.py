"""Adapter for a real business system over HTTP (JSON). The protocol is what :mod:`.server` serves:

    GET  /customers/lookup?identifier=…        → {"id", "name"} | 404
    POST /customers/{id}/verify  {proof}        → {"verified": bool}
    POST /customers/{id}/codes                  → {"sent_to": "a***@example.com"}
    GET  /customers/{id}/orders                 → [order]
    GET  /orders/{id}                           → order | 404
    POST /orders/{id}/address {"address"}       → order | 409 {"error", "code"}
    POST /orders/{id}/cancel                    → order | 409
    POST /orders/{id}/problems {"kind","note"}  → {"reference"}
    GET  /customers/{id}/appointments           → [appointment]
    GET  /appointments/{id}/free-slots?limit=n  → [slot]
    POST /appointments/{id}/confirm|cancel      → appointment | 409
    POST /appointments/{id}/reschedule {"start"} → appointment | 409
    GET  /appointments?day=YYYY-MM-DD           → [appointment]   (outbound campaigns)
    GET  /orders/delayed?today=YYYY-MM-DD       → [order]         (outbound campaigns)
    GET  /customers/{id}/contact                → {"customer_id", "name", "phone", "timezone"} | 404

Every change (the POSTs but ``verify`` and ``codes``) carries its idempotency key as an ``Idempotency-Key``
header when it has one: the system applies a key at most once and answers a repeated key as it answered the
first call. aiohttp errors and 5xx answers become :class:`~bot.kernel.errors.ProviderError` (``permanent`` for 4xx).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import aiohttp

from bot.flows.backend.base import (
    Appointment,
    Backend,
    BackendConflict,
    Contact,
    Customer,
    FreeSlot,
    Order,
    Verification,
)
from bot.kernel.errors import ProviderError

PROVIDER = "backend"


class HttpBackend(Backend):
    """Calls a business system at ``base_url``; ``token`` is sent as a bearer token."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 5.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None,
                    params: dict[str, Any] | None = None, *, key: str | None = None) -> Any:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        headers = {"Idempotency-Key": key} if key else None
        try:
            async with self._session.request(method, self.base_url + path, json=body, params=params,
                                             headers=headers) as response:
                if response.status == 404:
                    return None
                data = await response.json(content_type=None)
                if response.status == 409:
                    raise BackendConflict(str(data.get("error", "conflict")), code=str(data.get("code", "conflict")))
                if response.status >= 400:
                    raise ProviderError(f"backend answered {response.status} to {method} {path}", provider=PROVIDER,
                                        permanent=response.status < 500)
                return data
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise ProviderError(f"backend call {method} {path} failed: {exc!r}", provider=PROVIDER) from exc

    async def find_customer(self, identifier: str) -> Customer | None:
        data = await self._call("GET", "/customers/lookup", params={"identifier": identifier})
        return Customer(data["id"], data["name"]) if data else None

    async def verify(self, customer_id: str, proof: Verification) -> bool:
        body = {k: v for k, v in asdict(proof).items() if v is not None and k != "extra"}
        data = await self._call("POST", f"/customers/{customer_id}/verify", body)
        return bool(data and data.get("verified"))

    async def send_code(self, customer_id: str) -> str:
        data = await self._call("POST", f"/customers/{customer_id}/codes", {})
        return str((data or {}).get("sent_to", ""))

    @staticmethod
    def _order(data: dict[str, Any]) -> Order:
        return Order(data["id"], data["customer_id"], data["status"], data.get("eta"), tuple(data.get("items", ())),
                     data.get("address", ""), data.get("carrier"))

    async def get_order(self, order_id: str) -> Order | None:
        data = await self._call("GET", f"/orders/{order_id}")
        return self._order(data) if data else None

    async def list_orders(self, customer_id: str) -> list[Order]:
        return [self._order(d) for d in await self._call("GET", f"/customers/{customer_id}/orders") or []]

    async def _order_change(self, path: str, body: dict[str, Any], key: str | None) -> Order:
        data = await self._call("POST", path, body, key=key)
        if data is None:
            raise BackendConflict("not found", code="not_found")
        return self._order(data)

    async def change_address(self, order_id: str, address: str, *, key: str | None = None) -> Order:
        return await self._order_change(f"/orders/{order_id}/address", {"address": address}, key)

    async def cancel_order(self, order_id: str, *, key: str | None = None) -> Order:
        return await self._order_change(f"/orders/{order_id}/cancel", {}, key)

    async def report_problem(self, order_id: str, kind: str, note: str, *, key: str | None = None) -> str:
        data = await self._call("POST", f"/orders/{order_id}/problems", {"kind": kind, "note": note}, key=key)
        return str((data or {}).get("reference", ""))

    async def list_appointments(self, customer_id: str) -> list[Appointment]:
        return [Appointment(**d) for d in await self._call("GET", f"/customers/{customer_id}/appointments") or []]

    async def free_slots(self, appointment_id: str, limit: int = 3) -> list[FreeSlot]:
        data = await self._call("GET", f"/appointments/{appointment_id}/free-slots", params={"limit": limit})
        return [FreeSlot(**d) for d in data or []]

    async def _appointment_change(self, path: str, body: dict[str, Any], key: str | None) -> Appointment:
        data = await self._call("POST", path, body, key=key)
        if data is None:
            raise BackendConflict("not found", code="not_found")
        return Appointment(**data)

    async def confirm_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        return await self._appointment_change(f"/appointments/{appointment_id}/confirm", {}, key)

    async def reschedule_appointment(self, appointment_id: str, start: str, *, key: str | None = None
                                     ) -> Appointment:
        return await self._appointment_change(f"/appointments/{appointment_id}/reschedule", {"start": start}, key)

    async def cancel_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        return await self._appointment_change(f"/appointments/{appointment_id}/cancel", {}, key)

    async def appointments_on(self, day: str) -> list[Appointment]:
        return [Appointment(**d) for d in await self._call("GET", "/appointments", params={"day": day}) or []]

    async def delayed_orders(self, today: str) -> list[Order]:
        return [self._order(d) for d in await self._call("GET", "/orders/delayed", params={"today": today}) or []]

    async def contact(self, customer_id: str) -> Contact | None:
        data = await self._call("GET", f"/customers/{customer_id}/contact")
        if not data:
            return None
        return Contact(str(data["customer_id"]), str(data.get("name", "")), str(data["phone"]), data.get("timezone"))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
