"""Time windows for KPIs: ``hour``, ``day``, ``7d`` and any ``<number><s|m|h|d|w>`` duration."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import RequestError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAMED = {"hour": "1h", "day": "24h", "week": "7d"}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")

#: The windows the ops console offers.
CONSOLE_WINDOWS = ("hour", "day", "7d")


class BadWindow(RequestError):
    """A window or duration we cannot read (HTTP 400)."""


@dataclass(frozen=True, slots=True)
class Window:
    """The last ``seconds`` before ``until`` (epoch seconds); ``label`` is how it was asked for."""

    label: str
    seconds: float
    until: float

    @property
    def since(self) -> float:
        """Start of the window (inclusive)."""
        return self.until - self.seconds

    @property
    def bucket_seconds(self) -> float:
        """Width of one chart bucket: 5 minutes up to an hour, hours up to two days, else days."""
        if self.seconds <= 3600:
            return 300.0
        if self.seconds <= 2 * 86400:
            return 3600.0
        return 86400.0


def parse_duration(text: str) -> float:
    """``"7d"`` → 604800.0; also ``hour``, ``day``, ``week``. Raises :class:`BadWindow` naming ``text``."""
    spec = _NAMED.get(text.strip().lower(), text)
    match = _DURATION.match(spec)
    if match is None or float(match.group(1)) <= 0:
        raise BadWindow(f"cannot read the window {text!r}: use hour, day, 7d or a duration like 30m, 12h, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


def window(label: str, *, until: float) -> Window:
    """The window named by ``label`` ending at ``until``."""
    return Window(label, parse_duration(label), until)
