"""Time windows for KPIs: ``hour``, ``day``, ``7d`` and any ``<number><s|m|h|d|w>`` duration up to 366 days.

The bound keeps a KPI read's work and memory proportional to at most a year of conversations (an
unbounded ``?window=99999999d`` once asked for a chart bucket per day since antiquity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.kernel.errors import RequestError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_NAMED = {"hour": "1h", "day": "24h", "week": "7d"}
_DURATION = re.compile(r"^\s*(\d{1,9}(?:\.\d{1,6})?)\s*([smhdw])\s*$")
#: The longest window a KPI read may cover.
MAX_WINDOW_DAYS = 366
MAX_WINDOW_SECONDS = MAX_WINDOW_DAYS * 86400.0
#: The longest window text we read (``"366d"`` needs four).
MAX_LABEL = 32

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
    """``"7d"`` → 604800.0; also ``hour``, ``day``, ``week``. Raises :class:`BadWindow` naming ``text`` (and the
    bound, for a window longer than :data:`MAX_WINDOW_DAYS` days)."""
    if len(text) > MAX_LABEL:
        raise BadWindow(f"the window is {len(text)} characters long; at most {MAX_LABEL} are read "
                        f"(use hour, day, 7d or a duration up to {MAX_WINDOW_DAYS}d)")
    spec = _NAMED.get(text.strip().lower(), text)
    match = _DURATION.match(spec)
    if match is None or float(match.group(1)) <= 0:
        raise BadWindow(f"cannot read the window {text!r}: use hour, day, 7d or a duration like 30m, 12h, 2w")
    seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_WINDOW_SECONDS:
        raise BadWindow(f"the window {text!r} is longer than the bound of {MAX_WINDOW_DAYS} days "
                        f"(at most {MAX_WINDOW_DAYS}d)")
    return seconds


def window(label: str, *, until: float) -> Window:
    """The window named by ``label`` ending at ``until``."""
    return Window(label, parse_duration(label), until)
