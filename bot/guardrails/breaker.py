"""Automatic roll-back: a flow that hands off, upsets or fails too often switches itself off.

The breaker listens to every conversation's events on the engine's bus (off the turn's path). Each
customer turn spent in a flow is one record; handoffs (except those caused by the scope itself),
emotional guardrail decisions and errors mark it. When a flow's rolling rate crosses its bound, the
breaker writes a new scope version switching the flow off (author ``circuit-breaker``: the audit
trail), logs ``circuit_breaker_tripped`` and notifies ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.bus import EventBus
from bot.errors import RequestError, StoreError
from bot.events import (
    ActionExecuted,
    Escalated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    GuardrailTriggered,
    UserUttered,
)
from bot.guardrails.scope import ScopeService
from bot.guardrails.taxonomy import EMOTIONAL
from bot.logs import get_logger
from bot.project.schema import BreakerConfig

log = get_logger(__name__)

AUTHOR = "circuit-breaker"
MAX_CONVERSATIONS = 10_000


@dataclass(slots=True)
class TurnRecord:
    """What happened in one customer turn of a flow."""

    at: float
    escalated: bool = False
    negative: bool = False
    error: bool = False


@dataclass(frozen=True, slots=True)
class Trip:
    """The breaker's verdict on one flow."""

    flow: str
    measure: str
    """``escalation``, ``negative`` or ``error``."""
    rate: float
    bound: float
    turns: int

    @property
    def reason(self) -> str:
        return (f"circuit breaker: {self.measure} rate {self.rate:.0%} over the last {self.turns} turns of flow "
                f"{self.flow} exceeds {self.bound:.0%}")


@dataclass(slots=True)
class _Conversation:
    stack: list[str] = field(default_factory=list)
    record: TurnRecord | None = None
    flow: str | None = None


class CircuitBreaker:
    """Rolling per-flow rates; :meth:`observe` is pure bookkeeping, :meth:`run` acts on trips."""

    def __init__(self, config: BreakerConfig, scope: ScopeService, *,
                 notify: Callable[[Trip], Any] | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.scope = scope
        self.notify = notify
        self.clock = clock
        self.windows: dict[str, deque[TurnRecord]] = {}
        self._conversations: OrderedDict[str, _Conversation] = OrderedDict()
        self._task: asyncio.Task[None] | None = None

    def observe(self, conversation_id: str, event: Event) -> Trip | None:
        """Fold one event in; returns a :class:`Trip` when a flow just crossed a bound."""
        conv = self._conversations.setdefault(conversation_id, _Conversation())
        self._conversations.move_to_end(conversation_id)
        if len(self._conversations) > MAX_CONVERSATIONS:
            self._conversations.popitem(last=False)
        match event:
            case UserUttered(for_agent=False):
                conv.record = None
                if conv.stack:
                    self._open(conv, conv.stack[-1])
            case FlowStarted(flow_id=flow):
                conv.stack.append(flow)
                if conv.record is None:
                    self._open(conv, flow)
            case FlowCompleted(flow_id=flow) | FlowCancelled(flow_id=flow):
                if flow in conv.stack:
                    conv.stack.reverse()
                    conv.stack.remove(flow)
                    conv.stack.reverse()
            case Escalated(reason=reason) if conv.record is not None and reason != "scope":
                conv.record.escalated = True
                conv.record.error = conv.record.error or reason == "error"
            case GuardrailTriggered(category=category) if conv.record is not None and category in EMOTIONAL:
                conv.record.negative = True
            case ActionExecuted(ok=False) if conv.record is not None:
                conv.record.error = True
            case _:
                return None
        return self.check(conv.flow) if conv.record is not None and conv.flow is not None else None

    def _open(self, conv: _Conversation, flow: str) -> None:
        conv.record = TurnRecord(self.clock())
        conv.flow = flow
        window = self.windows.setdefault(flow, deque(maxlen=self.config.window_turns))
        window.append(conv.record)

    def check(self, flow: str) -> Trip | None:
        """The first bound ``flow`` crosses now, if any (switched-off flows are not judged)."""
        window = self.windows.get(flow)
        if not window or self.scope.scope.flows.get(flow) is False:
            return None
        horizon = self.clock() - self.config.window_seconds
        while window and window[0].at < horizon:
            window.popleft()
        if len(window) < self.config.min_turns:
            return None
        for measure, bound in (("escalation", self.config.max_escalation_rate),
                               ("negative", self.config.max_negative_rate),
                               ("error", self.config.max_error_rate)):
            rate = sum(1 for r in window if getattr(r, "escalated" if measure == "escalation" else measure)) / len(
                window)
            if rate > bound:
                return Trip(flow, measure, round(rate, 4), bound, len(window))
        return None

    async def trip(self, trip: Trip) -> None:
        """Switch the flow off (a new scope version), forget its window, tell ops."""
        self.windows.pop(trip.flow, None)
        try:
            if (await self.scope.refresh()).scope.flows.get(trip.flow) is False:
                return  # another worker's breaker (or ops) switched it off first
            await self.scope.update({"flows": {trip.flow: False}}, author=AUTHOR, reason=trip.reason, kind="breaker")
        except (RequestError, StoreError) as exc:
            log.error("circuit_breaker_failed", flow=trip.flow, error=str(exc))
            return
        log.warning("circuit_breaker_tripped", flow=trip.flow, measure=trip.measure, rate=trip.rate,
                    bound=trip.bound, turns=trip.turns)
        if self.notify is not None:
            result = self.notify(trip)
            if asyncio.iscoroutine(result):
                await result

    async def run(self, bus: EventBus) -> None:
        """Watch ``bus`` until cancelled."""
        async with bus.subscribe(None) as queue:
            while True:
                conversation_id, event = await queue.get()
                trip = self.observe(conversation_id, event)
                if trip is not None:
                    await self.trip(trip)

    def start(self, bus: EventBus) -> None:
        """Run in the background (:meth:`close` stops it)."""
        if self.config.enabled and self._task is None:
            self._task = asyncio.create_task(self.run(bus), name="circuit-breaker")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def webhook_notifier(url: str, *, timeout: float = 5.0) -> Callable[[Trip], Any]:
    """Notify ops by POSTing the trip as JSON to ``url`` (failures are logged, never raised into the breaker)."""

    async def notify(trip: Trip) -> None:
        import aiohttp

        payload = {"event": "circuit_breaker_tripped", "flow": trip.flow, "measure": trip.measure,
                   "rate": trip.rate, "bound": trip.bound, "turns": trip.turns, "reason": trip.reason}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.post(url, json=payload) as response:
                if response.status >= 400:
                    log.warning("breaker_notify_failed", url=url, status=response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("breaker_notify_failed", url=url, error=str(exc))

    return notify
