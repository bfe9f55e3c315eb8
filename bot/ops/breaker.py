"""Automatic roll-back: a flow that hands off, upsets or fails too often switches itself off.

The breaker listens to every conversation's events on the engine's bus (off the turn's path). Each
customer turn spent in a flow is one record; handoffs, emotional guardrail decisions and errors mark
it. When a flow's rolling rate crosses its bound, the breaker writes a new scope version switching the
flow off (author ``circuit-breaker``: the audit trail), logs ``circuit_breaker_tripped`` and notifies ops.

It measures bot failure, not customer choice, and no one client can pull it:

- handoffs the customer asked for (reason ``requested``) or the scope caused (``scope``) never count;
- a verdict is over *distinct conversations*: a conversation counts once, failed when any of its turns in
  the window failed, however many turns it floods in;
- every *client* (``UserUttered.client``, the pseudonym of the client source) weighs the same: the rate is
  the mean, over clients, of the share of that client's conversations that failed — so one source opening
  many conversations counts as one client;
- no verdict before the window holds ``min_turns`` turns, ``min_conversations`` distinct conversations and
  ``min_clients`` distinct clients. Messages without a known client (``client`` is ``None``) all count as
  one shared ``unknown`` client: unattributed traffic can never make up the client minimum by itself.

Every trip names the conversations that failed (at most :data:`MAX_TRIP_CONVERSATIONS`) in the scope
version's reason, the log line and the webhook payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bot.guardrails.taxonomy import EMOTIONAL
from bot.infra.bus import EventBus
from bot.infra.logs import get_logger
from bot.kernel.errors import RequestError, StoreError
from bot.kernel.events import (
    ActionExecuted,
    Escalated,
    Event,
    FlowCancelled,
    FlowCompleted,
    FlowStarted,
    GuardrailTriggered,
    UserUttered,
)
from bot.ops.scope import MAX_REASON, ScopeService
from bot.project.schema import BreakerConfig

log = get_logger(__name__)

AUTHOR = "circuit-breaker"
MAX_CONVERSATIONS = 10_000
#: Escalation reasons that are not bot failures: the customer asked for a person, or the scope sent them.
NOT_FAILURES = frozenset({"requested", "scope"})
#: The one client every message without a known client source counts as.
UNKNOWN_CLIENT = "unknown"
#: Defaults of the verdict minimums (``BreakerConfig.min_conversations`` / ``min_clients`` when configured).
MIN_CONVERSATIONS = 10
MIN_CLIENTS = 5
#: A trip names at most this many of the conversations that caused it.
MAX_TRIP_CONVERSATIONS = 20
#: Characters of one conversation id quoted in a trip's reason.
MAX_ID_IN_REASON = 40
MEASURES = ("escalation", "negative", "error")


@dataclass(slots=True)
class TurnRecord:
    """What happened in one customer turn of a flow."""

    at: float
    conversation_id: str = ""
    client: str | None = None
    """The pseudonym of the client source of the turn's message (``None`` when unknown)."""
    escalated: bool = False
    negative: bool = False
    error: bool = False

    def failed(self, measure: str) -> bool:
        """Whether this turn counts against ``measure`` (``escalation``, ``negative`` or ``error``)."""
        return {"escalation": self.escalated, "negative": self.negative, "error": self.error}[measure]


@dataclass(frozen=True, slots=True)
class Trip:
    """The breaker's verdict on one flow."""

    flow: str
    measure: str
    """``escalation``, ``negative`` or ``error``."""
    rate: float
    """The mean over clients of the share of their conversations that failed."""
    bound: float
    turns: int
    conversations: int = 0
    """Distinct conversations in the window."""
    clients: int = 0
    """Distinct clients in the window (all unknown clients count as one)."""
    failed: int = 0
    """Conversations in the window that failed the measure."""
    caused_by: tuple[str, ...] = ()
    """Ids of the failed conversations, most recent first (at most :data:`MAX_TRIP_CONVERSATIONS`)."""

    @property
    def reason(self) -> str:
        """One line for the scope history, at most :data:`bot.ops.scope.MAX_REASON` characters."""
        head = (f"circuit breaker: {self.measure} rate {self.rate:.0%} over {self.conversations} conversations from "
                f"{self.clients} clients ({self.turns} turns) of flow {self.flow} exceeds {self.bound:.0%}; "
                f"{self.failed} failed")
        ids = [_quote(cid) for cid in self.caused_by]
        while ids:
            rest = self.failed - len(ids)
            text = f"{head}: {', '.join(ids)}" + (f" (+{rest} more)" if rest > 0 else "")
            if len(text) <= MAX_REASON:
                return text
            ids.pop()
        return head[:MAX_REASON]

    def to_dict(self) -> dict[str, Any]:
        """The trip as the log line and the ops webhook carry it."""
        return {"flow": self.flow, "measure": self.measure, "rate": self.rate, "bound": self.bound,
                "turns": self.turns, "conversations": self.conversations, "clients": self.clients,
                "failed": self.failed, "caused_by": list(self.caused_by), "reason": self.reason}


def _quote(conversation_id: str) -> str:
    """A conversation id as a reason quotes it: printable, at most :data:`MAX_ID_IN_REASON` characters."""
    text = "".join(c if c.isprintable() else "?" for c in conversation_id[:MAX_ID_IN_REASON])
    return text + ("…" if len(conversation_id) > MAX_ID_IN_REASON else "")


@dataclass(slots=True)
class _Conversation:
    stack: list[str] = field(default_factory=list)
    record: TurnRecord | None = None
    flow: str | None = None
    client: str | None = None


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
        self.min_conversations = int(getattr(config, "min_conversations", MIN_CONVERSATIONS))
        self.min_clients = int(getattr(config, "min_clients", MIN_CLIENTS))

    def observe(self, conversation_id: str, event: Event) -> Trip | None:
        """Fold one event in; returns a :class:`Trip` when a flow just crossed a bound."""
        conv = self._conversations.setdefault(conversation_id, _Conversation())
        self._conversations.move_to_end(conversation_id)
        if len(self._conversations) > MAX_CONVERSATIONS:
            self._conversations.popitem(last=False)
        match event:
            case UserUttered(for_agent=False, client=client):
                conv.record = None
                conv.client = client
                if conv.stack:
                    self._open(conversation_id, conv, conv.stack[-1])
            case FlowStarted(flow_id=flow):
                conv.stack.append(flow)
                if conv.record is None:
                    self._open(conversation_id, conv, flow)
            case FlowCompleted(flow_id=flow) | FlowCancelled(flow_id=flow):
                if flow in conv.stack:
                    conv.stack.reverse()
                    conv.stack.remove(flow)
                    conv.stack.reverse()
            case Escalated(reason=reason) if conv.record is not None and reason not in NOT_FAILURES:
                conv.record.escalated = True
                conv.record.error = conv.record.error or reason == "error"
            case GuardrailTriggered(category=category) if conv.record is not None and category in EMOTIONAL:
                conv.record.negative = True
            case ActionExecuted(ok=False) if conv.record is not None:
                conv.record.error = True
            case _:
                return None
        return self.check(conv.flow) if conv.record is not None and conv.flow is not None else None

    def _open(self, conversation_id: str, conv: _Conversation, flow: str) -> None:
        conv.record = TurnRecord(self.clock(), conversation_id, conv.client)
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
        tally = _Tally.of(window)
        if len(tally.conversations) < self.min_conversations or len(tally.clients) < self.min_clients:
            return None
        for measure, bound in zip(MEASURES, (self.config.max_escalation_rate, self.config.max_negative_rate,
                                             self.config.max_error_rate), strict=True):
            rate = tally.rate(measure)
            if rate > bound:
                failed = tally.failed(measure)
                return Trip(flow, measure, round(rate, 4), bound, tally.turns, len(tally.conversations),
                            len(tally.clients), len(failed), tuple(failed[:MAX_TRIP_CONVERSATIONS]))
        return None

    def rates(self) -> dict[str, dict[str, Any]]:
        """Per flow seen: turns, distinct conversations and clients, and the rolling rate of each measure."""
        out: dict[str, dict[str, Any]] = {}
        for flow, window in sorted(self.windows.items()):
            tally = _Tally.of(window)
            out[flow] = {"turns": tally.turns, "conversations": len(tally.conversations),
                         "clients": len(tally.clients),
                         **{f"{m}_rate": round(tally.rate(m), 4) for m in MEASURES}}
        return out

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
                    bound=trip.bound, turns=trip.turns, conversations=trip.conversations, clients=trip.clients,
                    failed=trip.failed, caused_by=list(trip.caused_by))
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


@dataclass(frozen=True, slots=True)
class _Tally:
    """One flow's window counted as votes: turns by conversation, conversations by client."""

    turns: int
    conversations: dict[str, list[TurnRecord]]
    """Records by conversation, the most recently active conversation first."""
    clients: dict[str, list[str]]
    """Conversation ids by client (a conversation belongs to its latest turn's client)."""

    @classmethod
    def of(cls, window: Iterable[TurnRecord]) -> _Tally:
        records = list(window)
        conversations: dict[str, list[TurnRecord]] = {}
        clients: dict[str, list[str]] = {}
        for record in reversed(records):
            if record.conversation_id not in conversations:
                conversations[record.conversation_id] = []
                clients.setdefault(record.client or UNKNOWN_CLIENT, []).append(record.conversation_id)
            conversations[record.conversation_id].append(record)
        return cls(len(records), conversations, clients)

    def failed(self, measure: str) -> list[str]:
        """Conversations with a turn that failed ``measure``, the most recently active first."""
        return [cid for cid, records in self.conversations.items() if any(r.failed(measure) for r in records)]

    def rate(self, measure: str) -> float:
        """The mean over clients of the share of their conversations that failed ``measure`` (0 when empty)."""
        failed = set(self.failed(measure))
        shares = [sum(cid in failed for cid in cids) / len(cids) for cids in self.clients.values()]
        return sum(shares) / len(shares) if shares else 0.0


def webhook_notifier(url: str, *, timeout: float = 5.0) -> Callable[[Trip], Any]:
    """Notify ops by POSTing the trip as JSON to ``url`` (failures are logged, never raised into the breaker)."""

    async def notify(trip: Trip) -> None:
        import aiohttp

        payload = {"event": "circuit_breaker_tripped", **trip.to_dict()}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.post(url, json=payload) as response:
                if response.status >= 400:
                    log.warning("breaker_notify_failed", url=url, status=response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("breaker_notify_failed", url=url, error=str(exc))

    return notify
