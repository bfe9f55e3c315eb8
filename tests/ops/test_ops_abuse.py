"""Abuse of the ops side over real sockets: no one client can switch a flow off, nothing stored breaks an ops
read, every ops parameter is bounded, rollback versions are checked, consoles cannot be framed and the switch
list names only the server's channels."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from bot.analytics import compute_kpis, window
from bot.app.cli import main
from bot.app.runtime import Runtime
from bot.kernel.events import CsatGiven, Escalated, Event, FlowStarted, SlotSet, UserUttered, event_from_dict
from bot.storage import ConversationStore, Database, open_database
from connectors.web import ops_console
from tests.ops.conftest import NOW, seed

WEBHOOK = "/webhooks/rest/webhook"
OPS = {"Authorization": "Bearer ops-token-1234"}


async def call(method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
    """One request; the status and the JSON (or text) body."""
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers, **kwargs) as resp:
        text = await resp.text()
        try:
            return resp.status, json.loads(text)
        except ValueError:
            return resp.status, text


def poison(now: float) -> list[Event]:
    """Events whose stored JSON holds what neither database reads as JSON: Infinity, NaN, NUL, a lone
    surrogate, and client-chosen values of the wrong type where KPIs expect a score or an id."""
    return [
        UserUttered(text="where is my order \x00 \ud800", channel="rest", intent="check_order_status",
                    metadata={"n": float("inf"), "customer_id": float("nan"), "deep": [[["x"]]]}, timestamp=now),
        FlowStarted(flow_id="authentication", timestamp=now + 1),
        SlotSet(name="customer_id", value=float("-inf"), timestamp=now + 2),
        Escalated(reason="complex", context={"x": float("nan")}, timestamp=now + 3),
        csat_as_sent(float("inf"), now + 4),
        csat_as_sent("many", now + 5),
    ]


def csat_as_sent(score: object, timestamp: float) -> Event:
    """A ``CsatGiven`` rebuilt from JSON as a client may send it, with a score of any type (not the ``int`` it
    declares)."""
    return event_from_dict({"type": CsatGiven.type, "score": score, "timestamp": timestamp})


async def store_poison(db: Database, now: float, conversation_id: str = "poison") -> None:
    """Write :func:`poison` into ``db`` through the store, then a row that is no JSON at all straight into SQL."""
    store = ConversationStore(db)
    await store.setup()
    seq = await store.append(conversation_id, poison(now), expected_seq=0)
    await db.execute("INSERT INTO events (conversation_id, seq, type, timestamp, data) VALUES (?, ?, ?, ?, ?)",
                     conversation_id, seq + 1, "user", now + 6, '{"text": "cut off", "metadata": {"n": Inf')


async def test_one_client_cannot_switch_a_flow_off(server: str, runtime: Runtime) -> None:
    """48 REST requests from one client, each conversation asking for a person in the verification flow (which
    tripped the breaker and switched verification off for everyone), leave the scope at version 1."""
    for i in range(24):
        for line in ("where is my order", "I want to talk to a human"):
            status, _ = await call("POST", server + WEBHOOK, json={"sender": f"flood-{i}", "message": line})
            assert status == 200
    await asyncio.sleep(0.3)  # the breaker reads the bus off the turn's path
    assert runtime.ops is not None
    assert len(runtime.ops.breaker.windows["authentication"]) >= 20  # it saw every turn
    status, scope = await call("GET", server + "/api/ops/scope", OPS)
    assert status == 200 and scope["version"] == 1 and scope["scope"]["flows"] == {}


async def test_stored_poison_cannot_break_ops_reads(server: str, runtime: Runtime) -> None:
    """Infinity, NaN, NUL, lone surrogates and a row of broken JSON in the store: KPIs, the console and the
    metrics still answer 200, counting the conversation and skipping what cannot be a score."""
    await store_poison(runtime.database, time.time() - 60)
    status, report = await call("GET", server + "/api/ops/kpis?window=day", OPS)
    assert status == 200, report
    overall = report["overall"]
    assert overall["conversations"] == 1 and overall["escalations_by_reason"] == {
        "complex": {"count": 1, "rate": 1.0}}
    assert overall["csat_responses"] == 0 and report["by_flow"]["authentication"]["conversations"] == 1
    for path in ("/api/ops/console", "/metrics"):
        status, _ = await call("GET", server + path, OPS)
        assert status == 200, path


async def test_poisoned_rows_do_not_change_other_kpis(database_url: str) -> None:
    """On SQLite and PostgreSQL, a poisoned conversation next to the hand-counted dataset is one more
    conversation and changes nothing it cannot carry (CSAT stays 3 responses, 3.67 on average)."""
    db = await open_database(database_url)
    try:
        await seed(db)
        await store_poison(db, NOW - 2 * 3600)
        report = await compute_kpis(db, window("7d", until=NOW))
    finally:
        await db.close()
    k = report.overall
    assert k.conversations == 8 and k.escalated == 4
    assert (k.csat_responses, k.csat_average) == (3, 3.67)
    assert report.by_flow["authentication"].conversations == 3


def test_report_survives_poison(tmp_path: Path) -> None:
    """``careline report`` over a store holding poisoned rows exits 0 and counts them, as table and JSON."""
    url = f"sqlite:///{tmp_path / 'poison.db'}"

    async def write() -> None:
        db = await open_database(url)
        try:
            await seed(db, now=time.time())
            await store_poison(db, time.time() - 60)
        finally:
            await db.close()

    asyncio.run(write())
    table = CliRunner().invoke(main, ["report", "--since", "7d", "--database", url])
    assert table.exit_code == 0, table.output
    as_json = CliRunner().invoke(main, ["report", "--since", "7d", "--database", url, "--json"])
    assert as_json.exit_code == 0 and json.loads(as_json.output)["overall"]["conversations"] == 8


@pytest.mark.parametrize(("path", "bound"), [
    ("/api/ops/kpis?window=99999999d", "366 days"),
    ("/api/ops/kpis?window=367d", "366 days"),
    ("/api/ops/kpis?window=53w", "366 days"),
    ("/api/ops/kpis?window=" + "9" * 5000 + "d", "at most 32"),
    ("/api/ops/scope/history?limit=1001", "from 1 to 1000"),
    ("/api/ops/scope/history?limit=" + "9" * 5000, "from 1 to 1000"),
    ("/api/ops/scope/history?limit=%C2%B2", "from 1 to 1000"),  # '²' is a digit to str.isdigit
    ("/api/ops/scope/history?limit=0", "from 1 to 1000"),
])
async def test_every_ops_parameter_is_bounded(server: str, path: str, bound: str) -> None:
    """Beyond its bound a parameter is a 400 whose reason names the bound (no 500, no unbounded work)."""
    status, body = await call("GET", server + path, OPS)
    assert status == 400 and bound in body["error"], body


async def test_rollback_versions_are_checked(server: str) -> None:
    """Huge, negative, zero, boolean, fractional and string versions are 400s naming the range; a version in
    range that does not exist is a 404; nothing is written."""
    url = server + "/api/ops/scope/rollback"
    for version in (10**40, -1, 0, True, 1.5, "1", None, 2**31):
        status, body = await call("POST", url, OPS, json={"version": version, "reason": "x"})
        assert status == 400 and "'version' must be an integer" in body["error"], (version, body)
    status, body = await call("POST", url, {**OPS, "Content-Type": "application/json"},
                              data='{"version": ' + "9" * 4300 + ', "reason": "x"}')
    assert status == 400, body
    status, body = await call("POST", url, OPS, json={"version": 2**31 - 1, "reason": "x"})
    assert status == 404 and "no scope version 2147483647" in body["error"]
    status, history = await call("GET", server + "/api/ops/scope/history", OPS)
    assert [v["version"] for v in history["versions"]] == [1]


async def test_a_kpi_read_stops_when_its_client_goes_away(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A client that disconnects mid-read leaves no KPI work running: the computation is cancelled."""
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def slow(*_args: object, **_kwargs: object) -> None:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    monkeypatch.setattr(ops_console, "compute_kpis", slow)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as http:
        with contextlib.suppress(TimeoutError):
            async with http.get(server + "/api/ops/kpis?window=day", headers=OPS):
                pass
    assert started.is_set()
    await asyncio.wait_for(cancelled.wait(), timeout=3)


@pytest.mark.parametrize("path", ["/agent/", "/agent/static/console.js", "/ops", "/ops/static/console.js",
                                  "/ops/static/nope.js"])
async def test_consoles_cannot_be_framed(server: str, path: str) -> None:
    """Console pages, their static files and their 404s forbid framing (CSP frame-ancestors and X-Frame-Options)."""
    async with aiohttp.ClientSession() as http, http.get(server + path) as resp:
        assert resp.headers.get("X-Frame-Options") == "DENY", path
        assert "frame-ancestors 'none'" in resp.headers.get("Content-Security-Policy", ""), path


async def test_the_switch_list_names_only_the_servers_channels(server: str, runtime: Runtime) -> None:
    """A channel name a client chose (claimed in metadata, or stored on a conversation) never appears among the
    channels ops can switch."""
    await call("POST", server + WEBHOOK, json={"sender": "c1", "message": "hello",
                                               "metadata": {"channel": "<img src=x onerror=alert(1)>"}})
    store = ConversationStore(runtime.database)
    await store.append("stored", [UserUttered(text="hi", channel="evil-channel")], expected_seq=0)
    status, body = await call("GET", server + "/api/ops/console", OPS)
    assert status == 200 and body["channels"] == ["rest", "web", "voice"]
