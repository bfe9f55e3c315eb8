"""When a target may be contacted: the calling window and quiet hours in the customer's time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.outbound.config import CampaignRules

#: How far ahead :func:`next_allowed` looks for an allowed minute (a rule set that allows nothing ends here).
HORIZON_DAYS = 8


def zone(name: str, fallback: str) -> ZoneInfo:
    """``name`` as a time zone, else ``fallback`` (a backend may know no zone, or a wrong one)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(fallback)


def allowed_at(rules: CampaignRules, moment: float, tz: ZoneInfo) -> bool:
    """Whether ``moment`` (epoch seconds) is inside the window, on an allowed day, and outside quiet hours,
    read on the customer's own clock."""
    local = datetime.fromtimestamp(moment, tz)
    minute = local.hour * 60 + local.minute
    if local.weekday() not in rules.days or not rules.window.contains(minute):
        return False
    return not any(quiet.contains(minute) for quiet in rules.quiet_hours)


def next_allowed(rules: CampaignRules, now: float, tz: ZoneInfo) -> float | None:
    """The first moment at or after ``now`` a contact is allowed (``now`` itself when it is), or ``None`` when
    nothing is allowed within :data:`HORIZON_DAYS`. Minutes are walked on the UTC line, so a daylight-saving
    change moves the window with the customer's clock."""
    if allowed_at(rules, now, tz):
        return now
    start = int(now // 60 + 1) * 60
    for step in range(HORIZON_DAYS * 24 * 60):
        moment = start + step * 60
        if allowed_at(rules, moment, tz):
            return float(moment)
    return None


def local_day(now: float, tz: ZoneInfo, *, offset_days: int = 0) -> str:
    """The ISO date of ``now`` (+ ``offset_days``) in ``tz``: "tomorrow" for a clinic is its own tomorrow."""
    from datetime import timedelta

    return (datetime.fromtimestamp(now, tz).date() + timedelta(days=offset_days)).isoformat()


def utc(moment: float) -> str:
    """``moment`` as an ISO UTC timestamp (logs, the API)."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")
