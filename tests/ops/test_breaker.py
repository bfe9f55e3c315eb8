"""The circuit breaker switches a flow off by itself when its rolling rates cross the configured bounds, and
measures bot failure over distinct conversations and clients: no one client can pull it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from structlog.testing import capture_logs

from bot.infra.bus import EventBus
from bot.kernel.events import ActionExecuted, Escalated, Event, FlowStarted, GuardrailTriggered, UserUttered
from bot.ops.breaker import AUTHOR, MAX_TRIP_CONVERSATIONS, CircuitBreaker, Trip, webhook_notifier
from bot.ops.scope import MAX_REASON, ScopeService
from bot.project.schema import AutomationScope, BreakerConfig
from bot.storage import open_database
from bot.testing.server import serve_app
from tests.ops.polling import wait_for


class Config(BreakerConfig):
    """``BreakerConfig`` with the verdict minimums (read by the breaker when the schema has them)."""

    min_conversations: int = 5
    min_clients: int = 3


CONFIG = Config(window_turns=10, min_turns=5, max_escalation_rate=0.5, max_negative_rate=0.4, max_error_rate=0.2)


@pytest.fixture
async def scope(tmp_path: Path) -> AsyncIterator[ScopeService]:
    """A scope service on a fresh SQLite file."""
    db = await open_database(f"sqlite:///{tmp_path / 'scope.db'}")
    service = ScopeService(db, AutomationScope())
    await service.setup()
    yield service
    await db.close()


def turn_in_flow(breaker: CircuitBreaker, conversation_id: str, flow: str, *extra: Event,
                 client: str | None = "") -> Trip | None:
    """One customer turn (from ``client``, by default a client of its own) that starts ``flow`` and then has
    ``extra`` events; the last verdict."""
    client = f"client-{conversation_id}" if client == "" else client
    verdict = None
    for event in (UserUttered(text="hi", client=client), FlowStarted(flow_id=flow), *extra):
        verdict = breaker.observe(conversation_id, event) or verdict
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
            bus.publish(f"c{i}", [UserUttered(text="x", client=f"k{i}"), FlowStarted(flow_id="orders"),
                                  Escalated(reason="complex")])
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


async def test_a_requested_human_is_not_a_failure(scope: ScopeService) -> None:
    """Customers asking for a person (reason ``requested``) in every conversation never trip the breaker."""
    breaker = CircuitBreaker(CONFIG, scope)
    assert all(turn_in_flow(breaker, f"c{i}", "authentication", Escalated(reason="requested")) is None
               for i in range(10))


async def test_one_conversation_flooding_failures_counts_once(scope: ScopeService) -> None:
    """Ten failing turns of one conversation are one failed conversation: under the conversation minimum."""
    breaker = CircuitBreaker(CONFIG, scope)
    breaker.observe("flood", FlowStarted(flow_id="orders"))
    verdicts = [turn_in_flow(breaker, "flood", "orders", Escalated(reason="complex"), client="k1")
                for _ in range(10)]
    assert verdicts == [None] * 10


async def test_one_client_across_many_conversations_cannot_trip(scope: ScopeService) -> None:
    """Failures in ten conversations of one client source, or of unknown clients, never reach a verdict."""
    breaker = CircuitBreaker(CONFIG, scope)
    assert all(turn_in_flow(breaker, f"a{i}", "orders", Escalated(reason="auth_failed"), client="attacker") is None
               for i in range(10))
    assert all(turn_in_flow(breaker, f"u{i}", "returns", ActionExecuted(name="a", ok=False), client=None) is None
               for i in range(10))


async def test_one_client_weighs_as_one_client_among_real_customers(scope: ScopeService) -> None:
    """One source failing in many conversations next to healthy customers weighs one client: no trip."""
    breaker = CircuitBreaker(Config(window_turns=50, min_turns=5, max_escalation_rate=0.5), scope)
    for i in range(4):
        assert turn_in_flow(breaker, f"ok{i}", "orders") is None
    assert all(turn_in_flow(breaker, f"a{i}", "orders", Escalated(reason="complex"), client="attacker") is None
               for i in range(30))
    assert breaker.rates()["orders"] == {"turns": 34, "conversations": 34, "clients": 5, "escalation_rate": 0.2,
                                         "negative_rate": 0.0, "error_rate": 0.0}


async def test_a_trip_names_the_conversations_that_caused_it(scope: ScopeService) -> None:
    """The trip lists the failed conversations (most recent first, capped) and its reason fits the history."""
    breaker = CircuitBreaker(Config(window_turns=50, min_turns=25, min_conversations=25), scope)
    trip = None
    for i in range(30):
        trip = turn_in_flow(breaker, f"conversation-with-a-long-id-{i:02d}", "orders",
                            Escalated(reason="complex")) or trip
        if trip:
            break
    assert trip is not None and trip.failed == trip.conversations == trip.clients == 25
    assert trip.caused_by[0] == "conversation-with-a-long-id-24" and len(trip.caused_by) == MAX_TRIP_CONVERSATIONS
    assert len(trip.reason) <= MAX_REASON and "conversation-with-a-long-id-24" in trip.reason
    assert "more)" in trip.reason and trip.to_dict()["caused_by"] == list(trip.caused_by)


async def test_the_log_line_and_the_webhook_name_the_conversations(scope: ScopeService) -> None:
    """``circuit_breaker_tripped`` and the ops webhook payload carry the ids of the failed conversations."""
    received: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serve_app(app) as url:
        breaker = CircuitBreaker(CONFIG, scope, notify=webhook_notifier(url + "/hook"))
        trip = None
        for i in range(5):
            trip = turn_in_flow(breaker, f"c{i}", "orders", Escalated(reason="complex")) or trip
        assert trip is not None
        with capture_logs() as logs:
            await breaker.trip(trip)
    line = next(entry for entry in logs if entry["event"] == "circuit_breaker_tripped")
    assert line["caused_by"] == ["c4", "c3", "c2", "c1", "c0"] and line["clients"] == 5
    assert received and received[0]["caused_by"] == ["c4", "c3", "c2", "c1", "c0"]
    assert received[0]["event"] == "circuit_breaker_tripped" and "c4" in str(received[0]["reason"])
    assert "c4, c3" in scope.current.reason
