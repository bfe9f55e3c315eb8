"""Business actions are rasa-sdk ``Action`` subclasses; this module holds their shared base.

An action reads the tracker, calls the :class:`~bot.flows.backend.Backend`, returns ``SlotSet``
events and utters domain responses through the dispatcher. Replies that disclose account data are
sent with ``json_message={"account_data": True}`` (:func:`utter_account_data`), which the output
guard withholds from unverified customers — a second line of defence behind :func:`verified_customer`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.backend.base import Backend


class BackendAction(Action):
    """An action with a :class:`Backend` (given at construction; action servers build their own)."""

    action_name = "action_backend"

    def __init__(self, backend: Backend | None = None) -> None:
        self._backend = backend

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            from bot.flows.backend.demo import DemoBackend

            self._backend = DemoBackend.from_seed_file()
        return self._backend

    def name(self) -> str:
        return self.action_name


def verified_customer(tracker: Tracker) -> str | None:
    """The verified customer's id, or ``None`` unless the conversation passed authentication."""
    if tracker.get_slot("authenticated") is not True or tracker.get_slot("auth_locked"):
        return None
    customer_id = tracker.get_slot("customer_id")
    return str(customer_id) if customer_id else None


def utter_account_data(dispatcher: CollectingDispatcher, response: str, **values: Any) -> None:
    """Utter ``response`` marked as account data (withheld by the output guard before verification)."""
    dispatcher.utter_message(response=response, json_message={"account_data": True}, **values)


def human_time(iso: str) -> str:
    """``2026-11-27T09:30`` → ``Fri 27 Nov at 09:30``; dates without time → ``Fri 27 Nov``."""
    try:
        moment = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    day = f"{moment:%a} {moment.day} {moment:%b}"
    return f"{day} at {moment:%H:%M}" if "T" in iso else day
