"""The business systems the flows' actions talk to, behind one interface (:class:`Backend`).

``DemoBackend`` (SQLite seeded from the demo data) ships for the demo and tests; ``HttpBackend``
adapts a real system that speaks the small JSON protocol served by :func:`create_backend_app`.
"""

from bot.flows.backend.base import (
    Appointment,
    Backend,
    BackendConflict,
    Contact,
    Customer,
    FreeSlot,
    Order,
)
from bot.flows.backend.demo import DemoBackend
from bot.flows.backend.http import HttpBackend

__all__ = ["Appointment", "Backend", "BackendConflict", "Contact", "Customer", "DemoBackend", "FreeSlot", "HttpBackend",
           "Order"]
