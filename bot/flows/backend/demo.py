"""The demo backend: SQLite (stdlib ``sqlite3``, off the event loop) seeded from ``bot/demo/seed.json``.

State really changes: an address change, cancellation or reschedule is visible to the next call.
One-time codes are "sent" to :attr:`DemoBackend.outbox` (the demo has no SMS gateway). Every change
applied is listed in :attr:`DemoBackend.changes`; a change whose idempotency key was already applied
returns the stored result and changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

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
from bot.infra.logs import get_logger

log = get_logger(__name__)
T = TypeVar("T")

DEMO_SEED = Path(__file__).resolve().parents[2] / "demo" / "seed.json"

_SCHEMA = """
CREATE TABLE customers (id TEXT PRIMARY KEY, name TEXT, email TEXT, phone TEXT, date_of_birth TEXT,
                        postcode TEXT, pin TEXT);
CREATE TABLE orders (id TEXT PRIMARY KEY, customer_id TEXT, status TEXT, eta TEXT, items TEXT, address TEXT,
                     carrier TEXT);
CREATE TABLE appointments (id TEXT PRIMARY KEY, customer_id TEXT, service TEXT, clinician TEXT, start TEXT,
                           status TEXT);
CREATE TABLE free_slots (clinician TEXT, start TEXT, PRIMARY KEY (clinician, start));
CREATE TABLE problems (ref TEXT PRIMARY KEY, order_id TEXT, kind TEXT, note TEXT);
CREATE TABLE codes (customer_id TEXT PRIMARY KEY, code TEXT);
"""
#: Idempotency keys already applied, with the result they returned (also added to older demo files).
_APPLIED = "CREATE TABLE IF NOT EXISTS applied (key TEXT PRIMARY KEY, result TEXT)"


def _order_from_dict(data: dict[str, Any]) -> Order:
    return Order(**{**data, "items": tuple(data["items"])})


def _appointment_from_dict(data: dict[str, Any]) -> Appointment:
    return Appointment(**data)


def normalize_phone(raw: str) -> str | None:
    """E.164 form of a phone number (``+442079460011``), trying GB then US for national numbers."""
    import phonenumbers

    for region in (None, "GB", "US"):
        try:
            number = phonenumbers.parse(raw, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalize_postcode(raw: str) -> str:
    return "".join(raw.split()).upper()


def mask_contact(value: str) -> str:
    """``ada@example.com`` → ``a***@example.com``; phones keep the last two digits."""
    if "@" in value:
        user, _, domain = value.partition("@")
        return f"{user[:1]}***@{domain}"
    return "*" * max(0, len(value) - 2) + value[-2:]


def moved_to(seed: dict[str, Any], today: date) -> dict[str, Any]:
    """``seed`` with its calendar moved so that its ``today`` falls on ``today``: order ETAs, appointments and
    free slots keep their distance from the day (a delivery due in 3 days stays due in 3 days); dates of
    birth stay."""
    days = timedelta(days=(today - date.fromisoformat(seed["today"])).days)

    def move(value: str | None) -> str | None:
        if not value:
            return value
        if "T" in value:
            return (datetime.fromisoformat(value) + days).isoformat(timespec="minutes")
        return (date.fromisoformat(value) + days).isoformat()

    return {
        **seed,
        "today": today.isoformat(),
        "orders": [{**o, "eta": move(o.get("eta"))} for o in seed.get("orders", [])],
        "appointments": [{**a, "start": move(a["start"])} for a in seed.get("appointments", [])],
        "free_slots": [{**s, "start": move(s["start"])} for s in seed.get("free_slots", [])],
    }


class DemoBackend(Backend):
    """SQLite-backed demo systems; ``path=":memory:"`` (default) gives every instance a fresh copy."""

    def __init__(self, seed: dict[str, Any], *, path: str = ":memory:", today: str | None = None) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self.today = today or seed.get("today", "1970-01-01")
        self.outbox: list[dict[str, str]] = []
        self.changes: list[dict[str, str | None]] = []
        """Changes applied, in order: ``{"op", "target", "key"}`` (a repeated key adds nothing)."""
        exists = self._db.execute("SELECT name FROM sqlite_master WHERE name='customers'").fetchone()
        if not exists:
            self._seed(seed)
        with self._db:
            self._db.execute(_APPLIED)

    @classmethod
    def from_seed_file(cls, path: Path = DEMO_SEED, *, today: date | None = None, **kwargs: Any) -> DemoBackend:
        """A demo backend seeded from a JSON file shaped like ``bot/demo/seed.json``, its calendar moved to
        ``today`` when given (:func:`moved_to`)."""
        seed = json.loads(path.read_text(encoding="utf-8"))
        return cls(seed if today is None or "today" not in seed else moved_to(seed, today), **kwargs)

    def _seed(self, seed: dict[str, Any]) -> None:
        with self._db:
            self._db.executescript(_SCHEMA)
            for c in seed.get("customers", []):
                self._db.execute("INSERT INTO customers VALUES (?,?,?,?,?,?,?)",
                                 (c["id"], c["name"], c["email"].lower(), normalize_phone(c["phone"]),
                                  c["date_of_birth"], normalize_postcode(c["postcode"]), c.get("pin")))
            for o in seed.get("orders", []):
                self._db.execute("INSERT INTO orders VALUES (?,?,?,?,?,?,?)",
                                 (o["id"].upper(), o["customer_id"], o["status"], o.get("eta"),
                                  json.dumps(o["items"]), o["address"], o.get("carrier")))
            for a in seed.get("appointments", []):
                self._db.execute("INSERT INTO appointments VALUES (?,?,?,?,?,?)",
                                 (a["id"].upper(), a["customer_id"], a["service"], a["clinician"], a["start"],
                                  a["status"]))
            for s in seed.get("free_slots", []):
                self._db.execute("INSERT INTO free_slots VALUES (?,?)", (s["clinician"], s["start"]))

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock, self._db:
                return work(self._db)

        return await asyncio.to_thread(locked)

    async def _change(self, op: str, target: str, key: str | None, work: Callable[[sqlite3.Connection], T],
                      encode: Callable[[T], Any], decode: Callable[[Any], T]) -> T:
        """Run ``work`` once per ``key``: a key already applied returns its stored result (``decode``d)."""

        def once(db: sqlite3.Connection) -> tuple[T, bool]:
            if key is not None:
                row = db.execute("SELECT result FROM applied WHERE key = ?", (key,)).fetchone()
                if row is not None:
                    return decode(json.loads(row["result"])), False
            result = work(db)
            if key is not None:
                db.execute("INSERT INTO applied VALUES (?, ?)", (key, json.dumps(encode(result))))
            return result, True

        result, applied = await self._run(once)
        if applied:
            self.changes.append({"op": op, "target": target, "key": key})
        else:
            log.info("backend_change_repeated", op=op, target=target)
        return result

    async def find_customer(self, identifier: str) -> Customer | None:
        value = identifier.strip()
        phone = normalize_phone(value) if any(ch.isdigit() for ch in value) and "@" not in value else None

        def work(db: sqlite3.Connection) -> Customer | None:
            row = db.execute(
                "SELECT c.id, c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.id "
                "WHERE c.email = ? OR c.phone = ? OR o.id = ? LIMIT 1",
                (value.lower(), phone, value.upper()),
            ).fetchone()
            return Customer(row["id"], row["name"]) if row else None

        return await self._run(work)

    async def verify(self, customer_id: str, proof: Verification) -> bool:
        def work(db: sqlite3.Connection) -> bool:
            row = db.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
            if row is None:
                return False
            if proof.date_of_birth is not None:
                return secrets.compare_digest(row["date_of_birth"], proof.date_of_birth)
            if proof.postcode is not None:
                return secrets.compare_digest(row["postcode"], normalize_postcode(proof.postcode))
            if proof.pin is not None:
                return row["pin"] is not None and secrets.compare_digest(row["pin"], proof.pin)
            if proof.code is not None:
                code = db.execute("SELECT code FROM codes WHERE customer_id = ?", (customer_id,)).fetchone()
                ok = code is not None and secrets.compare_digest(code["code"], proof.code)
                if ok:
                    db.execute("DELETE FROM codes WHERE customer_id = ?", (customer_id,))
                return ok
            return False

        return await self._run(work)

    async def send_code(self, customer_id: str) -> str:
        code = f"{secrets.randbelow(1_000_000):06d}"

        def work(db: sqlite3.Connection) -> str:
            row = db.execute("SELECT email FROM customers WHERE id = ?", (customer_id,)).fetchone()
            db.execute("INSERT OR REPLACE INTO codes VALUES (?, ?)", (customer_id, code))
            return str(row["email"]) if row else ""

        email = await self._run(work)
        self.outbox.append({"customer_id": customer_id, "to": email, "code": code})
        log.info("verification_code_sent", customer_id=customer_id)
        return mask_contact(email)

    @staticmethod
    def _order(row: sqlite3.Row) -> Order:
        return Order(row["id"], row["customer_id"], row["status"], row["eta"], tuple(json.loads(row["items"])),
                     row["address"], row["carrier"])

    async def get_order(self, order_id: str) -> Order | None:
        def work(db: sqlite3.Connection) -> Order | None:
            row = db.execute("SELECT * FROM orders WHERE id = ?", (order_id.strip().upper(),)).fetchone()
            return self._order(row) if row else None

        return await self._run(work)

    async def list_orders(self, customer_id: str) -> list[Order]:
        def work(db: sqlite3.Connection) -> list[Order]:
            rows = db.execute("SELECT * FROM orders WHERE customer_id = ? ORDER BY id DESC", (customer_id,))
            return [self._order(r) for r in rows]

        return await self._run(work)

    async def _modify(self, op: str, order_id: str, sql: str, args: tuple[Any, ...], key: str | None) -> Order:
        def work(db: sqlite3.Connection) -> Order:
            row = db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
            if row is None:
                raise BackendConflict(f"no order {order_id}", code="not_found")
            if row["status"] != "processing":
                raise BackendConflict(f"order {order_id} is {row['status']}", code=f"already_{row['status']}")
            db.execute(sql, (*args, order_id))
            return self._order(db.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone())

        return await self._change(op, order_id, key, work, Order.to_dict, _order_from_dict)

    async def change_address(self, order_id: str, address: str, *, key: str | None = None) -> Order:
        return await self._modify("change_address", order_id, "UPDATE orders SET address = ? WHERE id = ?",
                                  (address,), key)

    async def cancel_order(self, order_id: str, *, key: str | None = None) -> Order:
        return await self._modify("cancel_order", order_id,
                                  "UPDATE orders SET status = 'cancelled', eta = NULL WHERE id = ?", (), key)

    async def report_problem(self, order_id: str, kind: str, note: str, *, key: str | None = None) -> str:
        ref = f"CASE-{secrets.token_hex(3).upper()}"

        def work(db: sqlite3.Connection) -> str:
            db.execute("INSERT INTO problems VALUES (?,?,?,?)", (ref, order_id, kind, note))
            return ref

        return await self._change("report_problem", order_id, key, work, str, str)

    async def list_appointments(self, customer_id: str) -> list[Appointment]:
        def work(db: sqlite3.Connection) -> list[Appointment]:
            rows = db.execute("SELECT * FROM appointments WHERE customer_id = ? AND status != 'cancelled' "
                              "AND start >= ? ORDER BY start", (customer_id, self.today))
            return [Appointment(**dict(r)) for r in rows]

        return await self._run(work)

    async def appointments_on(self, day: str) -> list[Appointment]:
        def work(db: sqlite3.Connection) -> list[Appointment]:
            rows = db.execute("SELECT * FROM appointments WHERE status != 'cancelled' AND substr(start, 1, 10) = ? "
                              "ORDER BY start, id", (day,))
            return [Appointment(**dict(r)) for r in rows]

        return await self._run(work)

    async def delayed_orders(self, today: str) -> list[Order]:
        def work(db: sqlite3.Connection) -> list[Order]:
            rows = db.execute("SELECT * FROM orders WHERE status IN ('processing', 'shipped') AND eta IS NOT NULL "
                              "AND eta < ? ORDER BY eta, id", (today,))
            return [self._order(r) for r in rows]

        return await self._run(work)

    async def contact(self, customer_id: str) -> Contact | None:
        """The phone on file; the time zone is the phone number's (``phonenumbers``' time-zone data)."""
        from phonenumbers import parse, timezone

        def work(db: sqlite3.Connection) -> sqlite3.Row | None:
            row: sqlite3.Row | None = db.execute("SELECT id, name, phone FROM customers WHERE id = ?",
                                                 (customer_id,)).fetchone()
            return row

        row = await self._run(work)
        if row is None or not row["phone"]:
            return None
        zones = [z for z in timezone.time_zones_for_number(parse(row["phone"])) if "/" in z]
        return Contact(row["id"], row["name"], row["phone"], zones[0] if zones else None)

    @staticmethod
    def _get_appointment(db: sqlite3.Connection, appointment_id: str) -> Appointment:
        row = db.execute("SELECT * FROM appointments WHERE id = ?", (appointment_id.upper(),)).fetchone()
        if row is None:
            raise BackendConflict(f"no appointment {appointment_id}", code="not_found")
        return Appointment(**dict(row))

    async def free_slots(self, appointment_id: str, limit: int = 3) -> list[FreeSlot]:
        def work(db: sqlite3.Connection) -> list[FreeSlot]:
            appointment = self._get_appointment(db, appointment_id)
            rows = db.execute("SELECT * FROM free_slots WHERE clinician = ? AND start >= ? ORDER BY start LIMIT ?",
                              (appointment.clinician, self.today, limit))
            return [FreeSlot(r["clinician"], r["start"]) for r in rows]

        return await self._run(work)

    async def confirm_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        def work(db: sqlite3.Connection) -> Appointment:
            appointment = self._get_appointment(db, appointment_id)
            if appointment.status == "cancelled":
                raise BackendConflict("the appointment was cancelled", code="already_cancelled")
            db.execute("UPDATE appointments SET status = 'confirmed' WHERE id = ?", (appointment.id,))
            return self._get_appointment(db, appointment.id)

        return await self._change("confirm_appointment", appointment_id, key, work, Appointment.to_dict,
                                  _appointment_from_dict)

    async def reschedule_appointment(self, appointment_id: str, start: str, *, key: str | None = None
                                     ) -> Appointment:
        def work(db: sqlite3.Connection) -> Appointment:
            appointment = self._get_appointment(db, appointment_id)
            free = db.execute("SELECT 1 FROM free_slots WHERE clinician = ? AND start = ?",
                              (appointment.clinician, start)).fetchone()
            if free is None:
                raise BackendConflict(f"{start} is not free", code="slot_taken")
            db.execute("DELETE FROM free_slots WHERE clinician = ? AND start = ?", (appointment.clinician, start))
            db.execute("INSERT OR IGNORE INTO free_slots VALUES (?, ?)", (appointment.clinician, appointment.start))
            db.execute("UPDATE appointments SET start = ?, status = 'confirmed' WHERE id = ?", (start, appointment.id))
            return self._get_appointment(db, appointment.id)

        return await self._change("reschedule_appointment", appointment_id, key, work, Appointment.to_dict,
                                  _appointment_from_dict)

    async def cancel_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        def work(db: sqlite3.Connection) -> Appointment:
            appointment = self._get_appointment(db, appointment_id)
            db.execute("UPDATE appointments SET status = 'cancelled' WHERE id = ?", (appointment.id,))
            db.execute("INSERT OR IGNORE INTO free_slots VALUES (?, ?)", (appointment.clinician, appointment.start))
            return self._get_appointment(db, appointment.id)

        return await self._change("cancel_appointment", appointment_id, key, work, Appointment.to_dict,
                                  _appointment_from_dict)

    async def close(self) -> None:
        await asyncio.to_thread(self._db.close)
