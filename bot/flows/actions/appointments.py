"""Appointment actions: list upcoming ones, confirm, offer free slots, reschedule, cancel.

Changes go to the backend with an idempotency key (:func:`~bot.flows.actions.orders.change_key`).
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.flows.actions.base import BackendAction, human_time, utter_account_data, verified_customer
from bot.flows.actions.orders import change_key
from bot.flows.backend.base import Appointment, BackendConflict


def describe(appointment: Appointment) -> str:
    """``Physiotherapy assessment with Dr. Rosalind Franklin on Fri 27 Nov at 09:30``."""
    return f"{appointment.service} with {appointment.clinician} on {human_time(appointment.start)}"


class AppointmentAction(BackendAction):
    """Finds the verified customer's appointment named by the ``appointment_id`` slot."""

    async def owned_appointment(self, tracker: Tracker) -> Appointment | None:
        customer_id = verified_customer(tracker)
        wanted = str(tracker.get_slot("appointment_id") or "").upper()
        if customer_id is None or not wanted:
            return None
        return next((a for a in await self.backend.list_appointments(customer_id) if a.id == wanted), None)


class ActionListAppointments(AppointmentAction):
    """Show upcoming appointments; with one it is chosen, with several the customer picks (buttons)."""

    action_name = "action_list_appointments"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        customer_id = verified_customer(tracker)
        appointments = await self.backend.list_appointments(customer_id) if customer_id else []
        if not appointments:
            return [SlotSet("appointment_count", 0), SlotSet("appointment_id", None)]
        if len(appointments) == 1:
            only = appointments[0]
            utter_account_data(dispatcher, "utter_one_appointment", appointment=describe(only), status=only.status)
            return [SlotSet("appointment_count", 1), SlotSet("appointment_id", only.id),
                    SlotSet("appointment_summary", describe(only))]
        buttons = [{"title": describe(a), "payload": f'/choose{{"appointment_id": "{a.id}"}}'} for a in appointments]
        dispatcher.utter_message(response="utter_choose_appointment", buttons=buttons,
                                 json_message={"account_data": True})
        return [SlotSet("appointment_count", len(appointments)), SlotSet("appointment_id", None)]


class ActionDescribeAppointment(AppointmentAction):
    """Check the chosen appointment belongs to the customer and remember its summary."""

    action_name = "action_describe_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        appointment = await self.owned_appointment(tracker)
        if appointment is None:
            return [SlotSet("appointment_found", False)]
        return [SlotSet("appointment_found", True), SlotSet("appointment_summary", describe(appointment))]


class ActionConfirmAppointment(AppointmentAction):
    """Mark the appointment confirmed in the backend."""

    action_name = "action_confirm_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        appointment = await self.owned_appointment(tracker)
        if appointment is None:
            return [SlotSet("appointment_found", False)]
        confirmed = await self.backend.confirm_appointment(
            appointment.id, key=change_key(tracker, self.action_name, appointment.id))
        utter_account_data(dispatcher, "utter_appointment_confirmed", appointment=describe(confirmed))
        return []


class ActionOfferSlots(AppointmentAction):
    """Offer free times with the same clinician as buttons."""

    action_name = "action_offer_slots"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        appointment = await self.owned_appointment(tracker)
        if appointment is None:
            return [SlotSet("appointment_found", False)]
        slots = await self.backend.free_slots(appointment.id)
        if not slots:
            return [SlotSet("offered_slots", [])]
        buttons = [{"title": human_time(s.start), "payload": f'/choose{{"new_slot": "{s.start}"}}'} for s in slots]
        dispatcher.utter_message(response="utter_offer_slots", buttons=buttons, clinician=appointment.clinician,
                                 json_message={"account_data": True})
        return [SlotSet("offered_slots", [s.start for s in slots])]


class ActionRescheduleAppointment(AppointmentAction):
    """Move the appointment to the chosen free slot."""

    action_name = "action_reschedule_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        appointment = await self.owned_appointment(tracker)
        start = tracker.get_slot("new_slot")
        if appointment is None or not start:
            return [SlotSet("appointment_found", False)]
        try:
            moved = await self.backend.reschedule_appointment(
                appointment.id, str(start), key=change_key(tracker, self.action_name, appointment.id))
        except BackendConflict:
            dispatcher.utter_message(response="utter_slot_taken")
            return [SlotSet("new_slot", None)]
        utter_account_data(dispatcher, "utter_appointment_rescheduled", appointment=describe(moved))
        return [SlotSet("offered_slots", None)]


class ActionCancelAppointment(AppointmentAction):
    """Cancel the appointment (its time becomes free for others)."""

    action_name = "action_cancel_appointment"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        appointment = await self.owned_appointment(tracker)
        if appointment is None:
            return [SlotSet("appointment_found", False)]
        await self.backend.cancel_appointment(appointment.id,
                                              key=change_key(tracker, self.action_name, appointment.id))
        utter_account_data(dispatcher, "utter_appointment_cancelled", appointment=describe(appointment))
        return []
