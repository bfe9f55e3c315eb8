"""Helpdesk connectors against local HTTP servers: signed webhook with retries and idempotency, signed
inbound actions, and Chatwoot's agent-bot semantics."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.app.runtime import Runtime
from bot.handoff.config import ChatwootConfig, WebhookConfig
from bot.kernel.events import AgentMessage, ReturnedToBot
from bot.kernel.messages import UserMessage
from bot.testing.server import serve_app
from connectors.helpdesk.dispatcher import Dispatcher
from connectors.helpdesk.routes import HELPDESK, Helpdesk
from connectors.helpdesk.signing import SignatureInvalid, sign, verify
from connectors.helpdesk.webhook import WebhookTarget
from connectors.web import create_app

from .conftest import AMY, RuntimeFactory, escalate

SECRET = "s3cret-for-tests"


def test_signatures_verify_and_refuse_tampering_and_age() -> None:
    """A fresh signature verifies; a changed body, a wrong secret, an old timestamp or no header is refused."""
    body = b'{"a": 1}'
    headers = sign(SECRET, body, now=1000.0)
    verify(SECRET, headers, body, now=1010.0)
    for bad in (lambda: verify(SECRET, headers, b'{"a": 2}', now=1010.0),
                lambda: verify("other", headers, body, now=1010.0),
                lambda: verify(SECRET, headers, body, now=2000.0),
                lambda: verify(SECRET, {}, body, now=1000.0)):
        with pytest.raises(SignatureInvalid):
            bad()


@asynccontextmanager
async def receiver(statuses: list[int]) -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A helpdesk that answers with ``statuses`` in turn (then 200) and records every request."""
    seen: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        raw = await request.read()
        seen.append({"headers": dict(request.headers), "raw": raw, "body": json.loads(raw)})
        status = statuses.pop(0) if statuses else 200
        return web.json_response({}, status=status)

    app = web.Application()
    app.router.add_post("/hook", hook)
    async with serve_app(app) as url:
        yield url + "/hook", seen


@asynccontextmanager
async def app_for(rt: Runtime, env: dict[str, str]) -> AsyncIterator[tuple[str, web.Application]]:
    app = create_app(rt)
    app[HELPDESK] = Helpdesk(environment=env)
    async with serve_app(app) as url:
        yield url, app


async def test_escalations_are_posted_signed_retried_with_one_idempotency_key(make_runtime: RuntimeFactory) -> None:
    """Two 503s then 200: the escalation arrives on the third try, signed, with the context and one stable key."""
    async with receiver([503, 503]) as (hook_url, seen):
        rt: Runtime = await make_runtime(webhook=WebhookConfig(url=hook_url, backoff=0.01))
        async with app_for(rt, {"CARELINE_WEBHOOK_SECRET": SECRET}) as (_, app):
            await escalate(rt, "w1", "my order is late")
            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
            records = await dispatcher.deliveries("w1")
    escalations = [s for s in seen if s["body"]["event"] == "escalated"]
    assert len(escalations) == 3
    assert len({s["headers"]["Idempotency-Key"] for s in escalations}) == 1
    for request in escalations:
        verify(SECRET, request["headers"], request["raw"])
    body = escalations[-1]["body"]
    assert body["conversation_id"] == "w1" and body["context"]["reason"] == "requested"
    assert body["context"]["transcript"][0]["text"] == "my order is late"
    assert [(r["event_type"], r["status"], r["attempts"]) for r in records] == [("escalated", "delivered", 3)]


async def test_a_permanent_refusal_is_not_retried(make_runtime: RuntimeFactory) -> None:
    """A 400 from the helpdesk fails the delivery at once and records the error."""
    async with receiver([400]) as (hook_url, seen):
        rt: Runtime = await make_runtime(webhook=WebhookConfig(url=hook_url, backoff=0.01))
        async with app_for(rt, {"CARELINE_WEBHOOK_SECRET": SECRET}) as (_, app):
            await escalate(rt, "w2")
            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
            records = await dispatcher.deliveries("w2")
    assert len(seen) == 1
    assert records[0]["status"] == "failed" and "HTTP 400" in records[0]["error"]


async def test_two_workers_deliver_each_event_once(make_runtime: RuntimeFactory) -> None:
    """Two dispatchers hearing the same events (as on a Redis bus) claim each key once: one request per event."""
    async with receiver([]) as (hook_url, seen):
        rt: Runtime = await make_runtime()
        config = WebhookConfig(url=hook_url, backoff=0.01)
        workers = [Dispatcher(rt.engine.bus, rt.database, [WebhookTarget(config, SECRET)]) for _ in range(2)]
        for worker in workers:
            await worker.start()
        await escalate(rt, "w3")
        await asyncio.sleep(0.05)
        for worker in workers:
            await worker.drain()
            await worker.close()
    assert [s["body"]["event"] for s in seen] == ["escalated"]


async def test_status_changes_and_waiting_messages_are_posted_too(make_runtime: RuntimeFactory) -> None:
    """Customer messages while waiting, the claim, the agent's reply and the return reach the webhook in order."""
    async with receiver([]) as (hook_url, seen):
        rt: Runtime = await make_runtime(webhook=WebhookConfig(url=hook_url, backoff=0.01))
        async with app_for(rt, {"CARELINE_WEBHOOK_SECRET": SECRET}) as (_, app):
            assert rt.handoff is not None
            await escalate(rt, "w4")
            await rt.engine.handle("w4", UserMessage("hello?"))
            await rt.handoff.claim(AMY, "w4")
            await rt.handoff.send(AMY, "w4", "Hi")
            await rt.handoff.return_to_bot(AMY, "w4")
            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
    events = sorted(seen, key=lambda s: s["body"]["at"])
    assert [s["body"]["event"] for s in events] == ["escalated", "customer_message", "agent_joined",
                                                    "agent_message", "returned_to_bot"]


async def test_signed_inbound_actions_reach_the_customer(make_runtime: RuntimeFactory) -> None:
    """A signed "message" from the helpdesk claims and writes to the customer; unsigned is 401; no echo back."""
    async with receiver([]) as (hook_url, seen):
        rt: Runtime = await make_runtime(webhook=WebhookConfig(url=hook_url, backoff=0.01))
        async with app_for(rt, {"CARELINE_WEBHOOK_SECRET": SECRET}) as (url, app), aiohttp.ClientSession() as http:
            await escalate(rt, "w5")
            raw = json.dumps({"conversation_id": "w5", "action": "message", "agent": "jane",
                              "text": "Jane from the desk here"}).encode()
            async with http.post(url + "/api/helpdesk/webhook", data=raw) as resp:
                assert resp.status == 401
            async with http.post(url + "/api/helpdesk/webhook", data=raw, headers=sign(SECRET, raw)) as resp:
                assert resp.status == 200 and (await resp.json())["status"] == "agent"
            bad = json.dumps({"conversation_id": "w5", "action": "dance", "agent": "jane"}).encode()
            async with http.post(url + "/api/helpdesk/webhook", data=bad, headers=sign(SECRET, bad)) as resp:
                assert resp.status == 400 and "'action'" in (await resp.json())["error"]
            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
            state = await rt.engine.state("w5")
    message = next(e for e in state.events if isinstance(e, AgentMessage))
    assert (message.agent, message.text) == ("helpdesk:jane", "Jane from the desk here")
    assert [s["body"]["event"] for s in seen] == ["escalated"]


@asynccontextmanager
async def fake_chatwoot() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    """A local stand-in for Chatwoot's application API that records what Careline sends."""
    seen: list[dict[str, Any]] = []

    async def record(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"path": request.path, "token": request.headers.get("api_access_token"), "body": body})
        if request.path.endswith("/contacts"):
            return web.json_response({"payload": {"contact": {"id": 77},
                                                  "contact_inbox": {"source_id": "src-1"}}})
        if request.path.endswith("/conversations"):
            return web.json_response({"id": 501, "status": body["status"]})
        return web.json_response({"id": len(seen)})

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    async with serve_app(app) as url:
        yield url, seen


async def test_chatwoot_gets_the_conversation_with_agent_bot_semantics(make_runtime: RuntimeFactory) -> None:
    """Escalation creates contact and conversation, posts the context as a private note and opens it;
    an agent's reply in Chatwoot reaches the customer and setting it back to pending returns it to the bot."""
    env = {"CHATWOOT_API_TOKEN": "cw-token", "CHATWOOT_WEBHOOK_TOKEN": "hook-token"}
    async with fake_chatwoot() as (cw_url, seen):
        rt: Runtime = await make_runtime(chatwoot=ChatwootConfig(base_url=cw_url, account_id=3, inbox_id=9))
        async with app_for(rt, env) as (url, app), aiohttp.ClientSession() as http:
            await escalate(rt, "cw1", "my order is late")
            await rt.engine.handle("cw1", UserMessage("still there?"))
            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
            hook = url + "/api/helpdesk/chatwoot/"
            reply = {"event": "message_created", "message_type": "outgoing", "private": False,
                     "content": "Hello, Jane from Chatwoot", "sender": {"type": "user", "name": "Jane"},
                     "conversation": {"id": 501, "status": "open"}}
            async with http.post(hook + "wrong", json=reply) as resp:
                assert resp.status == 401
            async with http.post(hook + "hook-token", json=reply) as resp:
                assert (await resp.json()) == {"applied": "message"}
            async with http.post(hook + "hook-token", json={"event": "conversation_status_changed",
                                                            "id": 501, "status": "pending"}) as resp:
                assert (await resp.json()) == {"applied": "return_to_bot"}
            await dispatcher.drain()
            state = await rt.engine.state("cw1")
    paths = [s["path"] for s in seen]
    assert paths[:4] == ["/api/v1/accounts/3/contacts", "/api/v1/accounts/3/conversations",
                         "/api/v1/accounts/3/conversations/501/messages",
                         "/api/v1/accounts/3/conversations/501/toggle_status"]
    assert all(s["token"] == "cw-token" for s in seen)
    assert seen[0]["body"] == {"inbox_id": 9, "name": "cw1", "identifier": "cw1"}
    assert seen[1]["body"]["contact_id"] == 77 and seen[1]["body"]["source_id"] == "src-1"
    note = seen[2]["body"]
    assert note["private"] is True and "reason: requested" in note["content"] and "my order is late" in note["content"]
    assert seen[3]["body"] == {"status": "open"}
    incoming = [s["body"] for s in seen if s["body"].get("message_type") == "incoming"]
    assert [m["content"] for m in incoming] == ["still there?"]
    assert not any(s["body"].get("content") == "Hello, Jane from Chatwoot" for s in seen), "no echo to Chatwoot"
    assert any(isinstance(e, AgentMessage) and e.agent == "chatwoot:Jane" for e in state.events)
    assert isinstance(next(e for e in reversed(state.events) if isinstance(e, ReturnedToBot)), ReturnedToBot)
    assert str(state.status) == "bot"


async def test_a_missing_secret_stops_the_app_at_start(make_runtime: RuntimeFactory) -> None:
    """A configured webhook without its secret in the environment is a configuration error naming the key."""
    from bot.kernel.errors import ConfigError

    rt: Runtime = await make_runtime(webhook=WebhookConfig(url="http://127.0.0.1:9/hook"))
    with pytest.raises(ConfigError, match=r"handoff\.webhook\.secret_env"):
        async with app_for(rt, {}):
            pass
