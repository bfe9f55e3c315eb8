"""Live Prometheus metrics: what this worker did, plus shared state read from the database at scrape time.

Counters and histograms are fed by :meth:`Metrics.observe`, an engine observer: it hears the events each
turn (or agent/ops action) committed *in this worker*, with the turn's per-stage timings, so summing
over workers never counts a turn twice (the Redis event bus, by contrast, delivers every worker's
events to every worker). Queue length, scope state and breaker trips are the same for every worker;
:meth:`Metrics.refresh` reads them from the store just before a scrape.

Metric names (``careline_`` prefix):

- ``turns_total{channel}``: customer turns the bot handled (messages for a human not included).
- ``messages_for_agent_total{channel}``: customer messages that went to a human.
- ``stage_seconds{stage}``: histogram of each engine stage's latency; ``turn_seconds``: all stages of a turn.
- ``escalations_total{reason}``: handoffs by reason.
- ``agent_events_total{type}``: agent_joined, returned_to_bot, closed, csat.
- ``queue_length``: conversations waiting for an agent now.
- ``scope_automation``, ``scope_rollout_percent``, ``scope_version``, ``scope_switch_off{kind,name}``.
- ``breaker_trips_total{flow}``: automatic roll-backs recorded in the scope history.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from bot.kernel.events import Escalated, Event, UserUttered

#: Latency buckets in seconds: sub-millisecond stages (normalize) to multi-second LLM calls.
STAGE_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
AGENT_EVENT_TYPES = frozenset({"agent_joined", "returned_to_bot", "closed", "csat"})

__all__ = ["CONTENT_TYPE_LATEST", "Metrics", "SharedState"]


@dataclass(frozen=True, slots=True)
class SharedState:
    """What every worker reports alike, read from the store at scrape time."""

    queue_length: int = 0
    scope: Mapping[str, Any] | None = None
    """The current automation scope (``AutomationScope.model_dump()``), ``None`` without a scope service."""
    scope_version: int | None = None
    breaker_trips: Mapping[str, int] = field(default_factory=dict)
    """Trips per flow."""


class _SharedCollector(Collector):
    def __init__(self) -> None:
        self.state = SharedState()

    def collect(self) -> Iterator[Any]:
        state = self.state
        yield GaugeMetricFamily("careline_queue_length", "Conversations waiting for an agent now.",
                                value=state.queue_length)
        trips = CounterMetricFamily("careline_breaker_trips", "Automatic roll-backs (circuit breaker trips).",
                                    labels=["flow"])
        for flow, count in sorted(state.breaker_trips.items()):
            trips.add_metric([flow], count)
        yield trips
        if state.scope is None:
            return
        yield GaugeMetricFamily("careline_scope_automation", "1 when automation is on globally, else 0.",
                                value=1 if state.scope.get("automation", True) else 0)
        yield GaugeMetricFamily("careline_scope_rollout_percent", "Share of new conversations the bot serves.",
                                value=float(state.scope.get("rollout", 100.0)))
        if state.scope_version is not None:
            yield GaugeMetricFamily("careline_scope_version", "Scope version this worker obeys.",
                                    value=state.scope_version)
        off = GaugeMetricFamily("careline_scope_switch_off", "1 for each flow, channel or intent switched off.",
                                labels=["kind", "name"])
        for kind in ("flows", "channels", "intents"):
            for name, on in sorted((state.scope.get(kind) or {}).items()):
                if on is False:
                    off.add_metric([kind[:-1], name], 1)
        yield off


class Metrics:
    """This process's Prometheus registry (one per app, so tests can run several apps side by side)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.turns = Counter("careline_turns", "Customer turns the bot handled.", ["channel"], registry=r)
        self.for_agent = Counter("careline_messages_for_agent", "Customer messages that went to a human.",
                                 ["channel"], registry=r)
        self.stage_seconds = Histogram("careline_stage_seconds", "Latency of each engine stage.", ["stage"],
                                       buckets=STAGE_BUCKETS, registry=r)
        self.turn_seconds = Histogram("careline_turn_seconds", "Latency of all stages of a turn.",
                                      buckets=STAGE_BUCKETS, registry=r)
        self.escalations = Counter("careline_escalations", "Handoffs to humans by reason.", ["reason"], registry=r)
        self.agent_events = Counter("careline_agent_events", "Agent-side conversation events by type.", ["type"],
                                    registry=r)
        self._shared = _SharedCollector()
        r.register(self._shared)

    def observe(self, conversation_id: str, events: Sequence[Event], turn: Any | None) -> None:
        """Engine observer: count ``events`` and, for a turn, its stage timings."""
        for event in events:
            if isinstance(event, UserUttered):
                (self.for_agent if event.for_agent else self.turns).labels(event.channel).inc()
            elif isinstance(event, Escalated):
                self.escalations.labels(event.reason).inc()
            elif event.type in AGENT_EVENT_TYPES:
                self.agent_events.labels(event.type).inc()
        timings: Mapping[str, float] = getattr(turn, "timings", None) or {}
        for stage, seconds in timings.items():
            self.stage_seconds.labels(stage).observe(seconds)
        if timings:
            self.turn_seconds.observe(sum(timings.values()))

    def refresh(self, state: SharedState) -> None:
        """Adopt the shared state the next scrape reports."""
        self._shared.state = state

    def render(self) -> bytes:
        """The text exposition format (``Content-Type``: :data:`CONTENT_TYPE_LATEST`)."""
        return generate_latest(self.registry)


def count_trips(history: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Breaker trips per flow from the scope history (``ScopeVersion.to_dict()`` dicts, any order): each
    ``breaker`` version counts the flows it switched off that the version before it had on."""
    trips: dict[str, int] = {}
    previous: Mapping[str, Any] = {}
    for version in sorted(history, key=lambda v: v["version"]):
        flows = version["scope"].get("flows") or {}
        if version["kind"] == "breaker":
            for flow, on in flows.items():
                if on is False and previous.get(flow) is not False:
                    trips[flow] = trips.get(flow, 0) + 1
        previous = flows
    return trips
