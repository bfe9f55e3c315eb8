"""The time source of scheduling: the system clock, or a frozen one tests move by hand."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    """Seconds since the epoch (UTC)."""

    def __call__(self) -> float: ...


def system_clock() -> float:
    """The wall clock."""
    return time.time()


@dataclass(slots=True)
class FrozenClock:
    """A clock that stands still until :meth:`advance` or :meth:`set` moves it."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def set(self, now: float) -> None:
        self.now = now
