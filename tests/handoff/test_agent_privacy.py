"""Issue 14, "agents see only what is theirs to see", over real sockets: the agent socket streams only
conversations in the queue or claimed by the agent, from their escalation on; verification answers and
sensitive values are masked in live events, the context package (transcript, summary) and helpdesk payloads.

Visibility rule under test: a waiting conversation is visible to every agent; a claimed one only to its
owner and admins; a bot-only one to no agent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp

from bot.app.runtime import Runtime
from bot.handoff.config import ChatwootConfig, WebhookConfig
from bot.handoff.privacy import Redactor
from bot.kernel.events import BotUttered, FlowStarted, FlowStepReached, SlotSet, UserUttered
from bot.project import Project

from .conftest import ADMIN_AUTH, AGENT_AUTH, BOB_AUTH, RuntimeFactory
from .test_helpdesk import SECRET, app_for, fake_chatwoot, receiver

WEBHOOK = "/webhooks/rest/webhook"
#: Ada in bot/demo/seed.json, and her date of birth as she types it.
EMAIL, DOB = "ada@example.com", "1985-12-10"
VERIFY = ("where is my order A1002", EMAIL, f"my date of birth is {DOB}")
Message = dict[str, Any]


async def say(http: aiohttp.ClientSession, server: str, sender: str, text: str) -> list[dict[str, Any]]:
    async with http.post(server + WEBHOOK, json={"sender": sender, "message": text}) as resp:
        assert resp.status == 200, await resp.text()
        replies: list[dict[str, Any]] = await resp.json()
        return replies


async def agent_socket(http: aiohttp.ClientSession, server: str, token: str) -> aiohttp.ClientWebSocketResponse:
    """An authenticated agent socket (after its ``ready`` message)."""
    ws = await http.ws_connect(server.replace("http", "ws") + "/api/handoff/ws")
    await ws.send_str(json.dumps({"token": token}))
    assert (await ws.receive_json(timeout=10))["type"] == "ready"
    return ws


async def until(ws: aiohttp.ClientWebSocketResponse, done: Callable[[Message], bool]) -> list[Message]:
    """Every message the socket receives up to and including the first one ``done`` accepts."""
    seen: list[Message] = []
    while not seen or not done(seen[-1]):
        message = await ws.receive(timeout=10)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        assert DOB not in message.data and EMAIL not in message.data, message.data
        seen.append(json.loads(message.data))
    return seen


def escalated(conversation_id: str) -> Callable[[Message], bool]:
    return lambda m: (m["type"] == "event" and m["conversation_id"] == conversation_id
                      and m["event"]["type"] == "escalated")


def queue_changed(conversation_id: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "queue_changed" and m["conversation_id"] == conversation_id


async def test_a_bot_only_conversation_never_reaches_an_agent_socket(server: str) -> None:
    """A customer who verifies with her email and date of birth and never asks for a person produces nothing
    on a connected agent socket: the next frames are those of another conversation's escalation."""
    async with aiohttp.ClientSession() as http:
        ws = await agent_socket(http, server, "agent-token-123")
        for text in VERIFY:
            await say(http, server, "bot-only", text)
        await say(http, server, "sentinel", "agent please")
        seen = await until(ws, queue_changed("sentinel"))
        await ws.close()
    assert {m["conversation_id"] for m in seen} == {"sentinel"}
    assert next(m["event"]["type"] for m in seen if m["type"] == "event") == "escalated", \
        "the escalating turn's earlier events are not streamed"


async def test_an_escalated_conversation_reaches_the_agent_masked(server: str) -> None:
    """Once Ada asks for a person the agent gets her conversation, with her date of birth and email masked in
    live events, the transcript and the summary; the order number stays readable and the proof is named."""
    async with aiohttp.ClientSession() as http:
        ws = await agent_socket(http, server, "agent-token-123")
        for text in VERIFY:
            await say(http, server, "ada", text)
        await say(http, server, "ada", "agent please")
        await until(ws, queue_changed("ada"))
        await say(http, server, "ada", f"it's me, {EMAIL}, born {DOB}")
        live = await until(ws, lambda m: m["type"] == "event" and m["event"]["type"] == "user")
        async with http.get(server + "/api/handoff/ada", headers=AGENT_AUTH) as resp:
            raw = await resp.text()
        await ws.close()
    assert live[-1]["event"]["text"] == "it's me, [email], born [date of birth]"
    assert DOB not in raw and EMAIL not in raw
    context = json.loads(raw)["context"]
    customer = [t["text"] for t in context["transcript"] if t["from"] == "customer"]
    assert customer == ["where is my order A1002", "[email]", "my date of birth is [date of birth]",
                        "agent please", "it's me, [email], born [date of birth]"]
    assert context["customer"] == {"id": "C001", "verified": True, "proofs": ["email", "date of birth"]}
    assert "[date of birth]" in context["summary"]


async def test_a_claimed_conversation_is_only_its_owners(hserver: str) -> None:
    """Both agents see a waiting conversation; once Amy claims it Bob gets only the queue change — none of
    its events, no queue entry, no context (403) — while Amy and an admin keep receiving it."""
    server = hserver
    async with aiohttp.ClientSession() as http:
        amy = await agent_socket(http, server, "agent-token-123")
        bob = await agent_socket(http, server, "agent-token-bob")
        admin = await agent_socket(http, server, "test-admin-token")
        await say(http, server, "mine", "agent please")
        for ws in (amy, bob, admin):
            await until(ws, queue_changed("mine"))
        async with http.post(server + "/api/handoff/mine/claim", headers=AGENT_AUTH) as resp:
            claimed_at = (await resp.json())["events"][0]["timestamp"]
        bob_claim = await until(bob, queue_changed("mine"))
        await say(http, server, "mine", "my postcode is SW1A 1AA")
        await http.post(server + "/api/handoff/mine/messages", json={"text": "Thanks, looking now"},
                        headers=AGENT_AUTH)
        for ws in (amy, admin):
            got = await until(ws, lambda m: m["type"] == "event" and m["event"]["type"] == "agent_message")
            texts = [m["event"].get("text") for m in got if m["type"] == "event" and m["conversation_id"] == "mine"]
            assert "my postcode is [postcode]" in texts
        await say(http, server, "sentinel", "agent please")
        bob_after = await until(bob, escalated("sentinel"))
        async with http.get(server + "/api/handoff/queue", headers=BOB_AUTH) as resp:
            bob_queue = [e["conversation_id"] for e in (await resp.json())["queue"]]
        async with http.get(server + "/api/handoff/mine", headers=BOB_AUTH) as resp:
            bob_view = resp.status
        async with http.post(server + "/api/handoff/mine/notes", json={"text": "hi"}, headers=BOB_AUTH) as resp:
            bob_note = resp.status
        async with http.get(server + "/api/handoff/queue", headers=ADMIN_AUTH) as resp:
            admin_queue = [e["conversation_id"] for e in (await resp.json())["queue"]]
        async with http.get(server + "/api/handoff/mine", headers=ADMIN_AUTH) as resp:
            admin_view = resp.status
        for ws in (amy, bob, admin):
            await ws.close()
    assert all(m["event"]["timestamp"] < claimed_at for m in bob_claim if m["type"] == "event"), \
        "Bob hears that the queue changed, none of the claimed conversation's events"
    assert all(m["conversation_id"] == "sentinel" for m in bob_after)
    assert bob_queue == ["sentinel"] and (bob_view, bob_note) == (403, 403)
    assert set(admin_queue) == {"mine", "sentinel"} and admin_view == 200


async def test_a_conversation_back_with_the_bot_is_no_agents(server: str) -> None:
    """After an agent returns a conversation to the bot, its later bot-only turns (a fresh verification)
    stream to no agent and its context is no longer served to agents (404), only to admins."""
    async with aiohttp.ClientSession() as http:
        ws = await agent_socket(http, server, "agent-token-123")
        await say(http, server, "back", "agent please")
        await http.post(server + "/api/handoff/back/claim", headers=AGENT_AUTH)
        async with http.post(server + "/api/handoff/back/return-to-bot", headers=AGENT_AUTH) as resp:
            assert resp.status == 200
        returned = await until(ws, lambda m: m["type"] == "event" and m["event"]["type"] == "returned_to_bot")
        returned += await until(ws, queue_changed("back"))
        for text in VERIFY:
            await say(http, server, "back", text)
        await say(http, server, "sentinel", "agent please")
        after = await until(ws, escalated("sentinel"))
        async with http.get(server + "/api/handoff/back", headers=AGENT_AUTH) as resp:
            agent_view = resp.status
        async with http.get(server + "/api/handoff/back", headers=ADMIN_AUTH) as resp:
            admin_view = resp.status
        await ws.close()
    assert {m["conversation_id"] for m in returned} == {"back"}
    assert all(m["conversation_id"] == "sentinel" for m in after)
    assert (agent_view, admin_view) == (404, 200)


async def test_helpdesk_payloads_are_masked(make_runtime: RuntimeFactory) -> None:
    """The signed webhook and Chatwoot get Ada's escalation and her waiting message with the email and date
    of birth masked (context transcript, summary, slots, customer messages), the order number readable."""
    async with receiver([]) as (hook_url, seen), fake_chatwoot() as (chatwoot_url, calls):
        rt: Runtime = await make_runtime(
            webhook=WebhookConfig(url=hook_url, backoff=0.01),
            chatwoot=ChatwootConfig(base_url=chatwoot_url, account_id=1, inbox_id=7))
        env = {"CARELINE_WEBHOOK_SECRET": SECRET, "CHATWOOT_API_TOKEN": "t0ken", "CHATWOOT_WEBHOOK_TOKEN": "w3bhook"}
        async with app_for(rt, env) as (url, app), aiohttp.ClientSession() as http:
            for text in (*VERIFY, "agent please", f"again: {EMAIL} {DOB}"):
                await say(http, url, "hd", text)
            from connectors.helpdesk.routes import HELPDESK

            dispatcher = app[HELPDESK].dispatcher
            assert dispatcher is not None
            await dispatcher.drain()
    raw = b"".join(s["raw"] for s in seen).decode() + json.dumps(calls)
    assert DOB not in raw and EMAIL not in raw
    by_event = {s["body"]["event"]: s["body"] for s in seen}
    context = by_event["escalated"]["context"]
    assert [t["text"] for t in context["transcript"] if t["from"] == "customer"][:3] == [
        "where is my order A1002", "[email]", "my date of birth is [date of birth]"]
    assert "[date of birth]" in context["summary"] and context["slots"]["verification"] is None
    assert by_event["customer_message"]["data"]["text"] == "again: [email] [date of birth]"
    note = next(c["body"]["content"] for c in calls if c["body"].get("private"))
    assert "verified; gave email, date of birth" in note and "[date of birth]" in note and "A1002" in note


def test_what_verification_answers_read_as(demo_project: Project) -> None:
    """An order number stays readable, a requested code stays readable, a malformed code's digits and the code
    itself are masked (also where the bot repeats it), and a request for a person at that step stays readable."""
    def step(step_id: str) -> FlowStepReached:
        return FlowStepReached(flow_id="authentication", step_id=step_id)

    order = UserUttered(text="where is my order A1002",
                        entities=({"entity": "order_number", "value": "A1002", "start": 18, "end": 23},))
    events = [order, FlowStarted(flow_id="authentication"), step("identify"), SlotSet(name="identifier", value="A1002"),
              step("choose_proof"), UserUttered(text="send me a code", intent="request_code"),
              SlotSet(name="verification", value="otp"), step("enter_code"), UserUttered(text="it is 12345"),
              UserUttered(text="123456"), SlotSet(name="otp_code", value="123456"),
              BotUttered(text="I got 123456, thanks"), UserUttered(text="agent please")]
    redactor = Redactor(events, demo_project)
    read = [redactor.user_text(e) if isinstance(e, UserUttered) else redactor.scrub(e.text)
            for e in events if isinstance(e, UserUttered | BotUttered)]
    assert read == ["where is my order A1002", "send me a code", "it is [number]", "[one-time code]",
                    "I got [one-time code], thanks", "agent please"]
    assert redactor.proofs == ["one-time code"]
    masked = [redactor.event(e) for e in events if isinstance(e, SlotSet)]
    assert [m.value if isinstance(m, SlotSet) else m for m in masked] == ["***", "***", "***"]
    revealed = Redactor(events, demo_project, reveal=True)
    assert [revealed.event(e) for e in events] == events
