"""The circuit breaker switches a flow off by itself when its rolling rates cross the configured bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.bus import EventBus
from bot.events import ActionExecuted, Escalated, FlowStarted, GuardrailTriggered, UserUttered
from bot.guardrails.breaker import AUTHOR, CircuitBreaker, Trip
from bot.guardrails.scope import ScopeService
from bot.project.schema import AutomationScope, BreakerConfig
from bot.storage import open_database
from tests.guardrails.conftest import wait_for

CONFIG = BreakerConfig(window_turns=10, min_turns=5, max_escalation_rate=0.5, max_negative_rate=0.4,
                       max_error_rate=0.2)


@pytest.fixture
async def scope(tmp_path: Path) -> AsyncIterator[ScopeService]:
    """A scope service on a fresh SQLite file."""
    db = await open_database(f"sqlite:///{tmp_path / 'scope.db'}")
    service = ScopeService(db, AutomationScope())
    await service.setup()
    yield service
    await db.close()


def turn_in_flow(breaker: CircuitBreaker, conversation_id: str, flow: str, *extra: object) -> Trip | None:
    """One customer turn that starts ``flow`` and then has ``extra`` events; the last verdict."""
    verdict = None
    for event in (UserUttered(text="hi"), FlowStarted(flow_id=flow), *extra):
        verdict = breaker.observe(conversation_id, event) or verdict  # type: ignore[arg-type]
    return verdict


async def test_no_verdict_before_the_minimum_number_of_turns(scope: ScopeService) -> None:
    """Four handoffs in four turns is 100% but under ``min_turns``: no trip yet; the fifth trips."""
    breaker = CircuitBreaker(CONFIG, scope)
    for i in range(4):
        assert turn_in_flow(breaker, f"c{i}", "orders", Escalated(reason="complex")) is None
    trip = turn_in_flow(breaker, "c4", "orders", Escalated(reason="complex"))
    assert trip is not None and (trip.flow, trip.measure, trip.turns) == ("orders", "escalation", 5)


async def test_healthy_flows_stay_on(scope: ScopeService) -> None:
    """One handoff in ten turns is under every bound."""
    breaker = CircuitBreaker(CONFIG, scope)
    verdicts = [turn_in_flow(breaker, f"c{i}", "orders", *([Escalated(reason="complex")] if i == 0 else []))
                for i in range(10)]
    assert verdicts == [None] * 10


async def test_scope_handoffs_do_not_count(scope: ScopeService) -> None:
    """Handoffs caused by the scope itself never count, so a switched-off flow is not judged again."""
    breaker = CircuitBreaker(CONFIG, scope)
    assert all(turn_in_flow(breaker, f"c{i}", "orders", Escalated(reason="scope")) is None for i in range(10))


async def test_negative_sentiment_and_errors_trip_too(scope: ScopeService) -> None:
    """Emotional guardrail decisions and failed actions have their own bounds."""
    breaker = CircuitBreaker(CONFIG, scope)
    trips = [turn_in_flow(breaker, f"n{i}", "returns", GuardrailTriggered(decision="offer_human", category="anger"))
             for i in range(5)]
    assert trips[-1] is not None and trips[-1].measure == "negative"
    errors = [turn_in_flow(breaker, f"e{i}", "billing", ActionExecuted(name="a", ok=False)) for i in range(5)]
    assert errors[-1] is not None and errors[-1].measure == "error"


async def test_a_trip_switches_the_flow_off_audits_and_notifies(scope: ScopeService) -> None:
    """Running on a bus, a trip writes a ``breaker`` scope version switching the flow off and tells ops once."""
    notified: list[Trip] = []
    bus = EventBus()
    breaker = CircuitBreaker(CONFIG, scope, notify=notified.append)
    breaker.start(bus)
    try:
        await asyncio.sleep(0)
        for i in range(8):
            bus.publish(f"c{i}", [UserUttered(text="x"), FlowStarted(flow_id="orders"), Escalated(reason="complex")])
        async def tripped() -> bool:
            return scope.scope.flows.get("orders") is False and bool(notified)

        await wait_for(tripped, within=5)
        await asyncio.sleep(0.05)
    finally:
        await breaker.close()
    latest = scope.current
    assert latest.kind == "breaker" and latest.author == AUTHOR and "escalation rate" in latest.reason
    assert [v.kind for v in await scope.history()] == ["breaker", "initial"]
    assert len(notified) == 1 and notified[0].flow == "orders"
