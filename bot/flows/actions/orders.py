"""Order actions: status and ETA, items, change address and cancel (before shipping), delivery problems.

Changes go to the backend with an idempotency key (:func:`change_key`), so a turn run twice changes once.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.actions.base import BackendAction, human_time, utter_account_data, verified_customer
from bot.flows.backend.base import BackendConflict, Order, idempotency_key

STATUS_TEXT = {"processing": "being prepared", "shipped": "on its way", "delivered": "delivered",
               "cancelled": "cancelled"}


def change_key(tracker: Tracker, action: str, target: str) -> str | None:
    """The idempotency key of ``action`` on ``target`` in this turn: from the server's facts about the message
    (``latest_message["careline"]``: the client's message id, else the turn number); ``None`` without them."""
    facts = tracker.latest_message.get("careline") or {}
    message = facts.get("message_id") or (f"turn-{facts['turn']}" if facts.get("turn") is not None else None)
    if message is None:
        return None
    return idempotency_key(tracker.sender_id, str(message), action, target)


class OrderAction(BackendAction):
    """Finds the verified customer's order named by the ``order_number`` slot."""

    async def owned_order(self, tracker: Tracker) -> Order | None:
        customer_id = verified_customer(tracker)
        number = tracker.get_slot("order_number")
        if customer_id is None or not number:
            return None
        order = await self.backend.get_order(str(number))
        return order if order is not None and order.customer_id == customer_id else None


def _eta_phrase(order: Order) -> str:
    if order.status == "delivered":
        return f"It was delivered on {human_time(order.eta)}." if order.eta else "It was delivered."
    if order.status == "cancelled" or not order.eta:
        return ""
    return f"Expected delivery: {human_time(order.eta)}."


_WORD = re.compile(r"[a-z]+")
_SAME_THING = {"couch": "sofa", "settee": "sofa", "sofas": "sofa", "light": "lamp", "lamps": "lamp",
               "carpet": "rug", "shelf": "bookshelf", "shelves": "bookshelf", "bookcase": "bookshelf",
               "chairs": "chair", "mirrors": "mirror", "cushions": "cushion"}
_NOT_A_THING = {"order", "orders", "item", "items", "thing", "the", "and", "with", "cm", "black", "grey", "green",
                "brass", "oak", "pine", "walnut", "wool", "round", "king", "three", "seat", "five", "arc", "floor"}


def _things(text: str) -> set[str]:
    """The product words in ``text`` ("my grey couch" → {"sofa"}), colours, materials and sizes left out."""
    words = {_SAME_THING.get(w, w) for w in _WORD.findall(text.lower())}
    return {w for w in words if len(w) > 2 and w not in _NOT_A_THING}


def order_choice(order: Order) -> str:
    """``A1003 · Oak desk, 140 cm (delivered)``: how an order is shown as a choice."""
    items = ", ".join(str(item.get("name", "")) for item in order.items[:2])
    return f"{order.id} · {items} ({STATUS_TEXT.get(order.status, order.status)})"


class ActionAskOrderNumber(OrderAction):
    """Ask which order it is about (Rasa's ``action_ask_<slot>``), or tell it when there is no doubt: the
    customer's only order, or the one order whose items the customer named ("any news on my sofa?"). With
    several and no clue, the customer's orders are offered as buttons."""

    action_name = "action_ask_order_number"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        customer_id = verified_customer(tracker)
        orders = await self.backend.list_orders(customer_id) if customer_id else []
        said = set().union(*(_things(str(e.get("text") or "")) for e in tracker.events if e.get("event") == "user"))
        named = [o for o in orders if said & _things(" ".join(str(i.get("name", "")) for i in o.items))]
        if len(orders) == 1 or len(named) == 1:
            chosen = (named or orders)[0]
            utter_account_data(dispatcher, "utter_order_chosen", order=order_choice(chosen))
            return [SlotSet("order_number", chosen.id)]
        choices = named or orders
        buttons = [{"title": order_choice(o), "payload": f'/choose{{"order_number": "{o.id}"}}'}
                   for o in choices[:MAX_ORDER_CHOICES]]
        dispatcher.utter_message(response="utter_ask_order_number", buttons=buttons,
                                 json_message={"account_data": True} if buttons else None)
        return []


MAX_ORDER_CHOICES = 5
"""Orders offered as buttons (the newest first, as the backend lists them); others are typed."""


class ActionOrderStatus(OrderAction):
    """Tell the status and ETA of the customer's order."""

    action_name = "action_order_status"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        if order is None:
            return [SlotSet("order_found", False)]
        carrier = f" with {order.carrier}" if order.carrier and order.status == "shipped" else ""
        utter_account_data(dispatcher, "utter_order_status", order_number=order.id,
                           status=STATUS_TEXT.get(order.status, order.status) + carrier, eta=_eta_phrase(order))
        return [SlotSet("order_found", True), SlotSet("order_status", order.status)]


class ActionOrderItems(OrderAction):
    """List what is in the customer's order."""

    action_name = "action_order_items"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        if order is None:
            return [SlotSet("order_found", False)]
        items = "; ".join(f"{item['qty']} × {item['name']}" for item in order.items)
        utter_account_data(dispatcher, "utter_order_items", order_number=order.id, items=items)
        return [SlotSet("order_found", True)]


class ActionCheckOrderModifiable(OrderAction):
    """Can the order still be changed (not yet shipped)? Sets ``order_found``/``order_modifiable``."""

    action_name = "action_check_order_modifiable"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        if order is None:
            return [SlotSet("order_found", False), SlotSet("order_modifiable", False)]
        return [SlotSet("order_found", True), SlotSet("order_modifiable", order.modifiable),
                SlotSet("order_status", order.status)]


class ActionChangeAddress(OrderAction):
    """Set the new delivery address (refused once shipped)."""

    action_name = "action_change_address"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        address = tracker.get_slot("new_address")
        if order is None or not address:
            return [SlotSet("order_found", False)]
        try:
            changed = await self.backend.change_address(order.id, str(address),
                                                        key=change_key(tracker, self.action_name, order.id))
        except BackendConflict:
            dispatcher.utter_message(response="utter_order_not_modifiable")
            return [SlotSet("order_modifiable", False)]
        utter_account_data(dispatcher, "utter_address_changed", order_number=changed.id, address=changed.address)
        return []


class ActionCancelOrder(OrderAction):
    """Cancel the order (refused once shipped)."""

    action_name = "action_cancel_order"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        if order is None:
            return [SlotSet("order_found", False)]
        try:
            await self.backend.cancel_order(order.id, key=change_key(tracker, self.action_name, order.id))
        except BackendConflict:
            dispatcher.utter_message(response="utter_order_not_modifiable")
            return [SlotSet("order_modifiable", False)]
        utter_account_data(dispatcher, "utter_order_cancelled", order_number=order.id)
        return [SlotSet("order_status", "cancelled")]


class ActionReportDeliveryProblem(OrderAction):
    """Record a missing or damaged delivery; the flow then hands off to the deliveries team."""

    action_name = "action_report_delivery_problem"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        order = await self.owned_order(tracker)
        if order is None:
            return [SlotSet("order_found", False)]
        kind = str(tracker.get_slot("problem_type") or "other")
        note = str(tracker.latest_message.get("text", ""))
        reference = await self.backend.report_problem(order.id, kind, note,
                                                      key=change_key(tracker, self.action_name, order.id))
        utter_account_data(dispatcher, "utter_problem_recorded", order_number=order.id, reference=reference)
        return [SlotSet("order_found", True), SlotSet("case_reference", reference)]
