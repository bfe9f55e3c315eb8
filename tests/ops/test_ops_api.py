"""The ops API over a real socket: ops role, partial updates with reasons, history, rollback, applied next turn."""

from __future__ import annotations

from typing import Any

import aiohttp

from bot.app.runtime import Runtime
from bot.kernel.messages import UserMessage

OPS = {"Authorization": "Bearer ops-token-1234"}
AGENT = {"Authorization": "Bearer agent-token-123"}


async def call(method: str, url: str, headers: dict[str, str] | None = None, **kwargs: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.request(method, url, headers=headers, **kwargs) as resp:
        return resp.status, await resp.json()


async def test_the_ops_role_is_required(server: str) -> None:
    """No token is 401; an agent token is 403; the ops token reads the scope."""
    assert (await call("GET", server + "/api/ops/scope"))[0] == 401
    assert (await call("GET", server + "/api/ops/scope", AGENT))[0] == 403
    status, body = await call("GET", server + "/api/ops/scope", OPS)
    assert status == 200 and body["version"] == 1 and body["scope"]["automation"] is True


async def test_bad_bodies_get_400_with_a_reason(server: str) -> None:
    """Missing reason, unknown keys, unknown flows, bad types and non-JSON bodies are refused with why."""
    url = server + "/api/ops/scope"
    cases = [
        ({"automation": False}, "'reason' is required"),
        ({"reason": "x"}, "nothing to change"),
        ({"automation": False, "colour": 1, "reason": "x"}, "unknown key(s) 'colour'"),
        ({"flows": {"no_such_flow": False}, "reason": "x"}, "unknown flow 'no_such_flow'"),
        ({"rollout": "half", "reason": "x"}, "rollout"),
    ]
    for body, message in cases:
        status, answer = await call("PUT", url, OPS, json=body)
        assert status == 400 and message in answer["error"], (body, answer)
    status, answer = await call("PUT", url, {**OPS, "Content-Type": "application/json"}, data=b"nope")
    assert status == 400 and "invalid JSON" in answer["error"]
    status, answer = await call("POST", server + "/api/ops/scope/rollback", OPS, json={"version": 42, "reason": "x"})
    assert status == 404 and "no scope version 42" in answer["error"]
    status, answer = await call("POST", server + "/api/ops/scope/rollback", OPS, json={"reason": "x"})
    assert status == 400 and "'version' is required" in answer["error"]


async def test_switch_off_applies_at_the_next_turn_and_rolls_back(server: str, runtime: Runtime) -> None:
    """A conversation in progress hands off (reason scope) at its next turn; rollback brings the bot back."""
    webhook = server + "/webhooks/rest/webhook"
    status, replies = await call("POST", webhook, json={"sender": "live", "message": "hello"})
    assert status == 200 and "Northwind" in replies[0]["text"]
    status, version = await call("PUT", server + "/api/ops/scope", OPS,
                                 json={"automation": False, "reason": "bad release"})
    assert status == 200 and version["version"] == 2 and version["author"] == "olga"
    await call("POST", webhook, json={"sender": "live", "message": "hello again"})
    state = await runtime.engine.state("live")
    assert state.status == "handoff" and state.escalation is not None and state.escalation.reason == "scope"

    status, history = await call("GET", server + "/api/ops/scope/history", OPS)
    assert status == 200 and [v["version"] for v in history["versions"]] == [2, 1]
    status, restored = await call("POST", server + "/api/ops/scope/rollback", OPS,
                                  json={"version": 1, "reason": "fixed"})
    assert status == 200 and restored["version"] == 3 and restored["restored_from"] == 1
    status, replies = await call("POST", webhook, json={"sender": "fresh", "message": "hello"})
    assert "Northwind" in replies[0]["text"]


async def test_per_intent_and_per_flow_switches(server: str, runtime: Runtime) -> None:
    """Switching off the greet flow hands off greetings (after understanding) but not other messages."""
    status, _ = await call("PUT", server + "/api/ops/scope", OPS,
                           json={"flows": {"greet": False}, "reason": "greeting copy is wrong"})
    assert status == 200
    await call("POST", server + "/webhooks/rest/webhook", json={"sender": "g", "message": "hello there"})
    state = await runtime.engine.state("g")
    assert state.escalation is not None and "flow greet is switched off" in state.escalation.signals[0]["evidence"]
    await call("POST", server + "/webhooks/rest/webhook", json={"sender": "h", "message": "thank you"})
    assert (await runtime.engine.state("h")).status == "bot"


async def test_channel_switch_and_rollout(server: str, runtime: Runtime) -> None:
    """A switched-off channel hands off; a 0% rollout sends new conversations straight to humans."""
    await call("PUT", server + "/api/ops/scope", OPS, json={"channels": {"voice": False}, "reason": "asr outage"})
    # the channel is the connector's, never the client's: a voice turn comes in through the engine as voice
    await runtime.engine.handle("v", UserMessage("hello", channel="voice", source="caller:+441234"))
    assert (await runtime.engine.state("v")).status == "handoff"
    await call("POST", server + "/webhooks/rest/webhook",
               json={"sender": "r", "message": "hello", "metadata": {"channel": "voice"}})
    assert (await runtime.engine.state("r")).status == "bot"
    await call("POST", server + "/webhooks/rest/webhook", json={"sender": "old", "message": "hello"})
    await call("PUT", server + "/api/ops/scope", OPS, json={"rollout": 0, "reason": "pause new conversations"})
    await call("POST", server + "/webhooks/rest/webhook", json={"sender": "new", "message": "hello"})
    assert (await runtime.engine.state("new")).status == "handoff"
    await call("POST", server + "/webhooks/rest/webhook", json={"sender": "old", "message": "thanks"})
    assert (await runtime.engine.state("old")).status == "bot"
