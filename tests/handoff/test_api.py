"""The agents' HTTP API and live socket over a real port: roles, refusals with reasons, live events."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from bot.app.runtime import Runtime
from bot.kernel.events import AgentMessage
from tests.ops.test_console_http import sample

from .conftest import ADMIN_AUTH, AGENT_AUTH, BOB_AUTH, OPS_AUTH

WEBHOOK = "/webhooks/rest/webhook"


async def _say(http: aiohttp.ClientSession, server: str, sender: str, text: str) -> list[dict[str, Any]]:
    async with http.post(server + WEBHOOK, json={"sender": sender, "message": text}) as resp:
        assert resp.status == 200
        replies: list[dict[str, Any]] = await resp.json()
        return replies


async def test_only_agents_read_the_queue_and_contexts(server: str) -> None:
    """No token is 401, an ops token 403, an agent token 200 for the queue and the context."""
    async with aiohttp.ClientSession() as http:
        await _say(http, server, "api1", "agent please")
        async with http.get(server + "/api/handoff/queue") as resp:
            assert resp.status == 401
        async with http.get(server + "/api/handoff/queue", headers=OPS_AUTH) as resp:
            assert resp.status == 403 and "agent role" in (await resp.json())["error"]
        async with http.get(server + "/api/handoff/api1", headers=OPS_AUTH) as resp:
            assert resp.status == 403
        async with http.get(server + "/api/handoff/queue", headers=AGENT_AUTH) as resp:
            body = await resp.json()
        assert [(e["conversation_id"], e["reason"], e["status"]) for e in body["queue"]] == [
            ("api1", "requested", "handoff")]
        assert body["queue"][0]["waiting_seconds"] >= 0 and "care" in body["teams"]
        async with http.get(server + "/api/handoff/api1", headers=AGENT_AUTH) as resp:
            view = await resp.json()
        assert view["status"] == "handoff" and view["context"]["transcript"][0]["text"] == "agent please"


async def test_actions_over_http_with_reasons_for_refusals(hserver: str) -> None:
    """Claim, message, note, transfer, return and close work for the owner; misuse gets 400/403/404/409 (a note
    on another agent's conversation too)."""
    server = hserver
    base = server + "/api/handoff/api2"
    async with aiohttp.ClientSession() as http:
        await _say(http, server, "api2", "agent please")
        async with http.post(base + "/messages", json={"text": "hi"}, headers=AGENT_AUTH) as resp:
            assert resp.status == 409 and "claim" in (await resp.json())["error"]
        async with http.post(base + "/claim", headers=AGENT_AUTH) as resp:
            assert resp.status == 200 and (await resp.json())["agent"] == "amy"
        async with http.post(base + "/claim", headers=BOB_AUTH) as resp:
            assert resp.status == 409 and "already claimed by amy" in (await resp.json())["error"]
        async with http.post(base + "/messages", json={"text": "hi"}, headers=BOB_AUTH) as resp:
            assert resp.status == 403
        async with http.post(base + "/messages", json={"text": ""}, headers=AGENT_AUTH) as resp:
            assert resp.status == 400 and "'text'" in (await resp.json())["error"]
        async with http.post(base + "/messages", data="hi", headers=AGENT_AUTH) as resp:
            assert resp.status == 400 and "Content-Type" in (await resp.json())["error"]
        async with http.post(base + "/messages", json={"text": "Hello from Amy"}, headers=AGENT_AUTH) as resp:
            body = await resp.json()
        assert body["events"][0]["type"] == "agent_message"
        async with http.post(base + "/notes", json={"text": "vip"}, headers=BOB_AUTH) as resp:
            assert resp.status == 403, "claimed by amy: not bob's to see"
        async with http.post(base + "/notes", json={"text": "vip"}, headers=AGENT_AUTH) as resp:
            assert resp.status == 200
        async with http.post(base + "/transfer", json={"team": "nowhere"}, headers=AGENT_AUTH) as resp:
            assert resp.status == 400 and "known teams" in (await resp.json())["error"]
        async with http.post(base + "/transfer", json={"team": "care"}, headers=AGENT_AUTH) as resp:
            assert resp.status == 200 and (await resp.json())["team"] == "care"
        async with http.post(base + "/claim", headers=BOB_AUTH) as resp:
            assert resp.status == 200
        async with http.post(base + "/close", json={"csat": "yes"}, headers=BOB_AUTH) as resp:
            assert resp.status == 400
        async with http.post(base + "/close", json={"csat": False}, headers=BOB_AUTH) as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "closed"
        async with http.post(base + "/return-to-bot", headers=BOB_AUTH) as resp:
            assert resp.status == 409 and "status closed" in (await resp.json())["error"]
        async with http.post(server + "/api/handoff/nobody/claim", headers=AGENT_AUTH) as resp:
            assert resp.status == 404
        async with http.get(server + "/api/handoff/audit", headers=AGENT_AUTH) as resp:
            assert resp.status == 403
        async with http.get(server + "/api/handoff/audit?conversation_id=api2", headers=ADMIN_AUTH) as resp:
            actions = [r["action"] for r in (await resp.json())["audit"]]
        assert actions[0] == "close" and "transfer" in actions and "claim" in actions


async def test_the_customer_gets_agent_messages_and_keeps_writing(server: str, runtime: Runtime) -> None:
    """On REST the bot stays silent while an agent has the conversation; the agent's message reaches the bus
    and the tracker; the customer's messages in between are all kept."""
    async with aiohttp.ClientSession() as http:
        await _say(http, server, "api3", "agent please")
        assert await _say(http, server, "api3", "are you there?") == []
        await http.post(server + "/api/handoff/api3/claim", headers=AGENT_AUTH)
        async with runtime.engine.bus.subscribe("api3") as inbox:
            await http.post(server + "/api/handoff/api3/messages", json={"text": "Yes, Amy here"}, headers=AGENT_AUTH)
            _, event = await asyncio.wait_for(inbox.get(), 5)
        assert isinstance(event, AgentMessage) and event.text == "Yes, Amy here"
        assert await _say(http, server, "api3", "my sofa is broken") == []
        async with http.get(server + "/conversations/api3/tracker", headers=ADMIN_AUTH) as resp:
            events = (await resp.json())["events"]
    texts = [(e["event"], e.get("text")) for e in events if e["event"] in ("user", "agent_message")]
    assert texts == [("user", "agent please"), ("user", "are you there?"), ("agent_message", "Yes, Amy here"),
                     ("user", "my sofa is broken")]


async def test_the_live_socket_needs_a_token_and_streams_events(server: str) -> None:
    """Without a valid agent token the socket closes; with one it streams customer messages and queue changes."""
    ws_url = server.replace("http", "ws") + "/api/handoff/ws"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url) as ws:
            await ws.send_str(json.dumps({"token": "ops-token-1234"}))
            message = await ws.receive_json(timeout=5)
            assert message["type"] == "error"
        async with http.ws_connect(ws_url) as ws:
            await ws.send_str(json.dumps({"token": "agent-token-123"}))
            assert (await ws.receive_json(timeout=5))["type"] == "ready"
            await _say(http, server, "live1", "agent please")
            seen: list[dict[str, Any]] = []
            while "queue_changed" not in [m["type"] for m in seen]:
                seen.append(await ws.receive_json(timeout=5))
            events = [m["event"]["type"] for m in seen if m["type"] == "event"]
            assert events[:2] == ["user", "guardrail"] or "escalated" in events
            escalated = next(m["event"] for m in seen if m["type"] == "event" and m["event"]["type"] == "escalated")
            assert escalated["reason"] == "requested" and "context" not in escalated


async def test_the_live_socket_tells_the_console_to_reload_after_a_bus_resync(server: str, runtime: Any) -> None:
    """A conversation escalated while the bus was away (its events never delivered) becomes visible after the
    resync: the socket sends ``resync`` and follows the conversation from then on."""
    ws_url = server.replace("http", "ws") + "/api/handoff/ws"
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url) as ws:
        await ws.send_str(json.dumps({"token": "agent-token-123"}))
        assert (await ws.receive_json(timeout=5))["type"] == "ready"
        original = runtime.engine.bus.publish
        runtime.engine.bus.publish = lambda *args: None  # the bus is away: nothing is delivered
        try:
            await _say(http, server, "missed1", "agent please")
        finally:
            runtime.engine.bus.publish = original
        runtime.engine.bus.resync("test")
        assert (await ws.receive_json(timeout=5)) == {"type": "resync", "reason": "test"}
        await _say(http, server, "missed1", "hello?")
        seen = [await ws.receive_json(timeout=5)]
    assert seen[0]["type"] == "event" and seen[0]["conversation_id"] == "missed1"


async def test_the_audit_limit_is_bounded(server: str) -> None:
    """A negative or oversized ``limit`` is a 400 naming the bounds (SQLite reads ``LIMIT -5`` as no limit)."""
    async with aiohttp.ClientSession() as http:
        for raw in ("-5", "0", "1001", "9" * 5000, "abc"):
            async with http.get(server + f"/api/handoff/audit?limit={raw}", headers=ADMIN_AUTH) as resp:
                assert resp.status == 400 and "from 1 to 1000" in (await resp.json())["error"]
        async with http.get(server + "/api/handoff/audit?limit=2", headers=ADMIN_AUTH) as resp:
            assert resp.status == 200


async def test_agent_actions_reach_the_metrics(hserver: str) -> None:
    """Agent actions go through the engine's one write path, so its observers count them:
    careline_agent_events_total shows the claim and the return to the bot."""
    base = hserver + "/api/handoff/met1"
    async with aiohttp.ClientSession() as http:
        await _say(http, hserver, "met1", "agent please")
        for action in ("/claim", "/return-to-bot"):
            async with http.post(base + action, headers=AGENT_AUTH) as resp:
                assert resp.status == 200, await resp.text()
        async with http.get(hserver + "/metrics", headers=OPS_AUTH) as resp:
            text = await resp.text()
    assert sample(text, "careline_agent_events_total", type="agent_joined") == 1
    assert sample(text, "careline_agent_events_total", type="returned_to_bot") == 1
