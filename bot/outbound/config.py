"""Outbound settings (``outbound:`` in a project's config.yml): who is calling, what may be said before the
callee is verified, and the default rules of a campaign.

```yaml
outbound:
  organisation: Northwind Clinic
  callback_number: 020 7946 0000
  disclosure: verified_only      # or: name_only, everything
  timezone: Europe/London
  rules:
    window: {start: "09:00", end: "19:00"}
    quiet_hours: [{start: "12:30", end: "13:30"}]
    max_attempts: 3
    retry_spacing_secs: 3600
    rate_per_minute: 10
```

A campaign created through the API may override ``rules``; the rest is the project's.
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

Disclosure = Literal["verified_only", "name_only", "everything"]
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TimeRange(_Strict):
    """A stretch of local wall-clock time, ``HH:MM`` to ``HH:MM``; ``end`` before ``start`` crosses midnight."""

    start: str
    """Inclusive, ``HH:MM`` (24 h)."""
    end: str
    """Exclusive, ``HH:MM`` (24 h)."""

    @field_validator("start", "end")
    @classmethod
    def _hhmm(cls, value: str) -> str:
        if not _HHMM.match(value):
            raise ValueError(f"expected HH:MM (24 h), got {value!r}")
        return value

    def minutes(self) -> tuple[int, int]:
        """``(start, end)`` as minutes after local midnight."""
        def of(text: str) -> int:
            hours, minutes = text.split(":")
            return int(hours) * 60 + int(minutes)
        return of(self.start), of(self.end)

    def contains(self, minute: int) -> bool:
        """Whether ``minute`` (after local midnight) falls inside this range."""
        start, end = self.minutes()
        if start <= end:
            return start <= minute < end
        return minute >= start or minute < end


class CampaignRules(_Strict):
    """When and how often a campaign may contact someone."""

    window: TimeRange = TimeRange(start="09:00", end="19:00")
    """The calling window, in the customer's own time zone."""
    days: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
    """Weekdays contact is allowed on (0 = Monday ... 6 = Sunday; the default leaves out Sunday)."""
    quiet_hours: tuple[TimeRange, ...] = ()
    """Local times inside the window when nobody is contacted (lunch, a legal curfew)."""
    max_attempts: int = Field(default=3, ge=1, le=10)
    """Attempts per target (a call unanswered, busy or failed is tried again until this many)."""
    retry_spacing_secs: float = Field(default=3600.0, ge=60)
    """Least time between two attempts at the same target."""
    rate_per_minute: int = Field(default=10, ge=1, le=600)
    """Most attempts this campaign starts per minute (across every worker)."""


class OutboundConfig(_Strict):
    """The ``outbound:`` section."""

    organisation: str = "Northwind Clinic"
    """Who is calling: the one thing said to anyone before they are verified."""
    callback_number: str | None = None
    """The number a voicemail asks the customer to call back on."""
    disclosure: Disclosure = "verified_only"
    """What the bot says before the callee has verified (PIN or date of birth by keypad):
    ``verified_only`` the organisation and that it concerns an appointment; ``name_only`` also the customer's
    first name; ``everything`` the appointment itself (only for projects whose policy allows it)."""
    verify_attempts: int = Field(default=3, ge=1, le=5)
    """Wrong PINs / dates of birth before the call ends politely."""
    timezone: str = "Europe/London"
    """The time zone of a customer whose own is unknown (and of "tomorrow" for a campaign's targets)."""
    chat_url: str = "http://localhost:8080/"
    """The link back into chat a message carries (an order-delay notice)."""
    listen_first_secs: float = Field(default=2.0, ge=0, le=10)
    """How long an answered call listens before speaking: a voicemail greeting usually starts at once."""
    rules: CampaignRules = CampaignRules()
    """Default rules of a campaign (a campaign may bring its own)."""

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/London)") from exc
        return value
