"""The :class:`Backend` interface: customers, verification, orders, appointments.

Every method is async. Business refusals (cancelling a shipped order) raise :class:`BackendConflict`
— control flow the actions turn into an explanation; a system that is down raises
:class:`~bot.kernel.errors.ProviderError` (translated where it enters, e.g. in :mod:`.http`).
Secrets (date of birth, postcode, PIN, one-time codes) never leave the backend: it answers
*whether* they match, never *what* they are.

Changes take an idempotency ``key`` (:func:`idempotency_key`): a backend applies a key at most once and
answers a repeated key with the first call's result, so a turn that is run again (the engine retries it
after a concurrent write; a client resends its message) never cancels or moves anything twice.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.kernel.errors import CarelineError


class BackendConflict(CarelineError):
    """The backend refused a change for a business reason (``code`` says which, e.g. ``already_shipped``)."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class Customer:
    """Who the customer is (no secrets)."""

    id: str
    name: str

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else ""


@dataclass(frozen=True, slots=True)
class Order:
    """An order; ``status`` is processing, shipped, delivered or cancelled."""

    id: str
    customer_id: str
    status: str
    eta: str | None
    items: tuple[dict[str, Any], ...]
    address: str
    carrier: str | None = None

    @property
    def modifiable(self) -> bool:
        """Address changes and cancellation are possible only before shipping."""
        return self.status == "processing"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Appointment:
    """A clinic appointment; ``status`` is booked, confirmed or cancelled; ``start`` is ISO local time."""

    id: str
    customer_id: str
    service: str
    clinician: str
    start: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class FreeSlot:
    """A bookable time with a clinician."""

    clinician: str
    start: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Contact:
    """How to reach a customer for an outbound contact: an E.164 phone number and the IANA time zone of the
    place they live (``None`` when unknown: the campaign's default applies)."""

    customer_id: str
    name: str
    phone: str
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """What the customer offered as proof; exactly one field is set."""

    date_of_birth: str | None = None
    postcode: str | None = None
    pin: str | None = None
    code: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def idempotency_key(conversation_id: str, message: str, action: str, target: str) -> str:
    """The key of one change: conversation, the message it answers (client message id or turn number),
    the action and what it changes. The same turn run again yields the same key."""
    return f"{conversation_id}:{message}:{action}:{target}"


class Backend(abc.ABC):
    """What the shipped flows need from the business's systems (every change takes an idempotency ``key``)."""

    @abc.abstractmethod
    async def find_customer(self, identifier: str) -> Customer | None:
        """The customer with this email, phone number or order number, if any."""

    @abc.abstractmethod
    async def verify(self, customer_id: str, proof: Verification) -> bool:
        """Whether ``proof`` matches the customer's records."""

    @abc.abstractmethod
    async def send_code(self, customer_id: str) -> str:
        """Send a one-time code to the contact details on file; returns where to, masked (``a***@example.com``)."""

    @abc.abstractmethod
    async def get_order(self, order_id: str) -> Order | None:
        """The order, if it exists."""

    @abc.abstractmethod
    async def list_orders(self, customer_id: str) -> list[Order]:
        """The customer's orders, newest first."""

    @abc.abstractmethod
    async def change_address(self, order_id: str, address: str, *, key: str | None = None) -> Order:
        """Set a new delivery address (raises :class:`BackendConflict` once shipped)."""

    @abc.abstractmethod
    async def cancel_order(self, order_id: str, *, key: str | None = None) -> Order:
        """Cancel the order (raises :class:`BackendConflict` once shipped)."""

    @abc.abstractmethod
    async def report_problem(self, order_id: str, kind: str, note: str, *, key: str | None = None) -> str:
        """Record a missing/damaged delivery; returns the case reference."""

    @abc.abstractmethod
    async def list_appointments(self, customer_id: str) -> list[Appointment]:
        """The customer's upcoming appointments (not cancelled), soonest first."""

    @abc.abstractmethod
    async def free_slots(self, appointment_id: str, limit: int = 3) -> list[FreeSlot]:
        """Free times with the appointment's clinician."""

    @abc.abstractmethod
    async def confirm_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        """Mark the appointment confirmed."""

    @abc.abstractmethod
    async def reschedule_appointment(self, appointment_id: str, start: str, *, key: str | None = None) -> Appointment:
        """Move the appointment to a free slot (the old time becomes free); raises if the slot is not free."""

    @abc.abstractmethod
    async def cancel_appointment(self, appointment_id: str, *, key: str | None = None) -> Appointment:
        """Cancel the appointment (its time becomes free)."""

    # --- outbound campaigns (optional: a backend without them cannot feed campaigns) -----------------

    async def appointments_on(self, day: str) -> list[Appointment]:
        """Booked (not cancelled) appointments starting on ``day`` (ISO date, the clinic's local time)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list appointments by day: implement "
                                  "appointments_on() to run appointment campaigns")

    async def delayed_orders(self, today: str) -> list[Order]:
        """Orders not yet delivered (nor cancelled) whose ETA is before ``today`` (ISO date)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list delayed orders: implement "
                                  "delayed_orders() to run order-delay campaigns")

    async def contact(self, customer_id: str) -> Contact | None:
        """The customer's phone number and time zone, if on file."""
        raise NotImplementedError(f"{type(self).__name__} has no contact details: implement contact() "
                                  "to run outbound campaigns")

    async def close(self) -> None:
        """Release connections."""
