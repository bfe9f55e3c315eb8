"""What a campaign is made of: the campaign, its targets, each attempt at a target, and outcomes.

A target is one thing to tell one customer about (an appointment, a delayed order). Each contact is an
:class:`Attempt` with a number (1, 2, ...); the store lets an attempt number exist once per target, so an
attempt is made at most once even when two workers or a restart race for it.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from bot.outbound.config import CampaignRules

Channel = Literal["voice", "sms", "webhook"]
TargetKind = Literal["appointments", "delayed_orders"]
CHANNELS: tuple[str, ...] = ("voice", "sms", "webhook")
TARGET_KINDS: tuple[str, ...] = ("appointments", "delayed_orders")


class Outcome(enum.StrEnum):
    """How a target (or one attempt) ended. ``sent`` waits for a reply; the others are final for an attempt."""

    REACHED = "reached"
    """Someone answered; nothing was decided (hung up, unverified)."""
    VOICEMAIL = "voicemail"
    CONFIRMED = "confirmed"
    RESCHEDULED = "rescheduled"
    CANCELLED = "cancelled"
    OPTED_OUT = "opted_out"
    TRANSFERRED = "transferred"
    SENT = "sent"
    """A message was accepted by the provider (a reply may still confirm or opt out)."""
    NO_ANSWER = "no_answer"
    FAILED = "failed"

    @property
    def retry(self) -> bool:
        """Whether another attempt may follow (nobody was reached)."""
        return self in (Outcome.NO_ANSWER, Outcome.FAILED)


#: Outcomes the console and the KPIs count, in display order.
OUTCOMES: tuple[str, ...] = ("reached", "voicemail", "confirmed", "rescheduled", "cancelled", "opted_out",
                             "transferred", "sent", "no_answer", "failed")


class CampaignStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


class TargetStatus(enum.StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (``next_at``)."""
    ACTIVE = "active"
    """An attempt is under way (a call ringing or in progress, a message awaiting its reply)."""
    DONE = "done"


@dataclass(frozen=True, slots=True)
class Campaign:
    """A list of targets + the flow to run + a channel + rules."""

    id: str
    name: str
    kind: TargetKind
    channel: Channel
    flow: str
    """What the contact is about: ``appointment_confirmation`` or ``order_delay``."""
    rules: CampaignRules
    status: CampaignStatus
    created_at: float
    params: dict[str, Any] = field(default_factory=dict)
    """How targets were chosen (``day`` for appointments) and the webhook URL of a ``webhook`` campaign."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["rules"] = self.rules.model_dump(mode="json")
        data["status"] = str(self.status)
        return data


@dataclass(frozen=True, slots=True)
class Target:
    """One contact to make: who (customer, phone, time zone) and about what (``subject_id``)."""

    campaign_id: str
    id: str
    """The appointment or order id (unique within the campaign)."""
    customer_id: str
    phone: str
    timezone: str
    status: TargetStatus
    attempts: int
    next_at: float
    outcome: str | None = None
    subject: dict[str, Any] = field(default_factory=dict)
    """What the contact is about (service, clinician, start; or the order's ETA): said only after verification."""

    def to_dict(self) -> dict[str, Any]:
        """For the API and the console: the phone masked, the subject reduced to its id."""
        data = asdict(self)
        data["status"] = str(self.status)
        data["phone"] = mask_phone(self.phone)
        data["subject"] = {k: v for k, v in self.subject.items() if k in ("id", "order_id")}  # no details
        return data


@dataclass(frozen=True, slots=True)
class Attempt:
    """One contact made (or being made) at a target."""

    id: str
    campaign_id: str
    target_id: str
    number: int
    channel: Channel
    started_at: float
    provider_sid: str | None = None
    outcome: str | None = None
    ended_at: float | None = None
    detail: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mask_phone(phone: str) -> str:
    """``+442079460011`` → ``*********0011``: logs, the console and the API never show the whole number."""
    return "*" * max(0, len(phone) - 4) + phone[-4:]
