"""The shipped business actions (rasa-sdk ``Action`` subclasses) and how they are executed."""

from __future__ import annotations

from rasa_sdk import Action

from bot.flows.actions.appointments import (
    ActionCancelAppointment,
    ActionConfirmAppointment,
    ActionDescribeAppointment,
    ActionListAppointments,
    ActionOfferSlots,
    ActionRescheduleAppointment,
)
from bot.flows.actions.auth import ActionSendVerificationCode, ActionVerifyIdentity
from bot.flows.actions.base import BackendAction
from bot.flows.actions.orders import (
    ActionAskOrderNumber,
    ActionCancelOrder,
    ActionChangeAddress,
    ActionCheckOrderModifiable,
    ActionOrderItems,
    ActionOrderStatus,
    ActionReportDeliveryProblem,
)
from bot.flows.backend.base import Backend
from bot.flows.lockout import Lockout

SHIPPED_ACTIONS: tuple[type[BackendAction], ...] = (
    ActionVerifyIdentity, ActionSendVerificationCode,
    ActionAskOrderNumber, ActionOrderStatus, ActionOrderItems, ActionCheckOrderModifiable, ActionChangeAddress,
    ActionCancelOrder,
    ActionReportDeliveryProblem,
    ActionListAppointments, ActionDescribeAppointment, ActionConfirmAppointment, ActionOfferSlots,
    ActionRescheduleAppointment, ActionCancelAppointment,
)


def shipped_actions(backend: Backend, *, lockout: Lockout | None = None) -> list[Action]:
    """One instance of every shipped action, all talking to ``backend``; verification counts its failures in
    ``lockout`` (default: one process's memory)."""
    return [ActionVerifyIdentity(backend, lockout) if cls is ActionVerifyIdentity else cls(backend)
            for cls in SHIPPED_ACTIONS]


__all__ = ["SHIPPED_ACTIONS", "BackendAction", "shipped_actions"]
