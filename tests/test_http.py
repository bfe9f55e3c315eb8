"""The web app over a real socket: Rasa REST channel, tracker API, and clear 4xx answers to bad requests."""

from __future__ import annotations

import aiohttp

WEBHOOK = "/webhooks/rest/webhook"
AUTH = {"Authorization": "Bearer test-admin-token"}


async def test_health_reports_what_is_loaded(server: str) -> None:
    """GET /health answers ok with the assistant and database in use."""
    async with aiohttp.ClientSession() as http, http.get(server + "/health") as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body["status"] == "ok" and body["assistant"] == "northwind" and body["database"] == "sqlite"


async def test_rest_channel_speaks_rasa_format(server: str) -> None:
    """The Rasa REST webhook answers with recipient_id, text and buttons."""
    async with aiohttp.ClientSession() as http, http.post(
        server + WEBHOOK, json={"sender": "u1", "message": "hello"}
    ) as resp:
        assert resp.status == 200
        body = await resp.json()
    assert body[0]["recipient_id"] == "u1"
    assert "Northwind assistant" in body[0]["text"]
    assert body[0]["buttons"][0] == {"title": "Where is my order?", "payload": "/check_order_status"}


async def test_tracker_shows_rasa_keys_and_ours(server: str) -> None:
    """The tracker has Rasa's sender_id, slots, latest_message and events plus status and active_flow."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + WEBHOOK, json={"sender": "u2", "message": "I want to give feedback"})
        async with http.get(server + "/conversations/u2/tracker", headers=AUTH) as resp:
            assert resp.status == 200
            tracker = await resp.json()
    assert tracker["sender_id"] == "u2"
    assert tracker["latest_message"]["intent"]["name"] == "give_feedback"
    assert 0.5 < tracker["latest_message"]["intent"]["confidence"] <= 1
    assert tracker["status"] == "bot" and tracker["active_flow"] == "feedback"
    assert [e["event"] for e in tracker["events"]][:2] == ["user", "flow_started"]
    assert tracker["events"][-1]["event"] == "bot" and tracker["handoff"] is None


async def test_tracker_shows_the_handoff_after_escalation(server: str) -> None:
    """After 'agent please' the tracker has status handoff with the reason and context."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + WEBHOOK, json={"sender": "u3", "message": "agent please"})
        async with http.get(server + "/conversations/u3/tracker", headers=AUTH) as resp:
            tracker = await resp.json()
    assert tracker["status"] == "handoff"
    assert tracker["handoff"]["reason"] == "requested"
    assert tracker["handoff"]["context"]["transcript"][0]["text"] == "agent please"


async def test_tracker_needs_the_admin_token(server: str) -> None:
    """No or an unknown token is 401, an agent's token 403, an unknown conversation 404."""
    async with aiohttp.ClientSession() as http:
        async with http.get(server + "/conversations/x/tracker") as resp:
            assert resp.status == 401
        async with http.get(server + "/conversations/x/tracker", headers={"Authorization": "Bearer nope"}) as resp:
            assert resp.status == 401
        agent = {"Authorization": "Bearer agent-token-123"}
        async with http.get(server + "/conversations/x/tracker", headers=agent) as resp:
            assert resp.status == 403 and "admin" in (await resp.json())["error"]
        async with http.get(server + "/conversations/never/tracker", headers=AUTH) as resp:
            assert resp.status == 404
            assert "never" in (await resp.json())["error"]


async def _post_raw(server: str, data: bytes, content_type: str = "application/json") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as http, http.post(
        server + WEBHOOK, data=data, headers={"Content-Type": content_type}
    ) as resp:
        return resp.status, await resp.json()


async def test_malformed_requests_get_400_with_a_reason(server: str) -> None:
    """Invalid JSON, a non-object body, a missing or non-string message, and a wrong content type are 400s."""
    cases = [
        (b'{"sender": "u", "message":', "application/json", "invalid JSON"),
        (b'["hello"]', "application/json", "must be an object"),
        (b'{"sender": "u"}', "application/json", "'message' is required"),
        (b'{"sender": "u", "message": 42}', "application/json", "'message' is required"),
        (b'{"sender": 7, "message": "hi"}', "application/json", "'sender' is required"),
        (b'{"sender": "u", "message": "hi", "metadata": []}', "application/json", "'metadata' must be an object"),
        (b'{"sender": "u", "message": "   "}', "application/json", "empty"),
        (b"sender=u&message=hi", "application/x-www-form-urlencoded", "Content-Type"),
    ]
    for data, content_type, reason in cases:
        status, body = await _post_raw(server, data, content_type)
        assert status == 400, (data, body)
        assert reason in body["error"], (data, body)


async def test_oversized_messages_and_bodies_get_413(server: str) -> None:
    """A message over the character cap and a body over the byte cap are refused with 413."""
    status, body = await _post_raw(server, b'{"sender": "u", "message": "' + b"a" * 2001 + b'"}')
    assert status == 413 and "limit is 2000" in body["error"]
    status, body = await _post_raw(server, b'{"sender": "u", "message": "' + b"a" * 70_000 + b'"}')
    assert status == 413 and "too large" in body["error"]


async def test_refused_requests_leave_the_conversation_untouched(server: str) -> None:
    """After a refused request the conversation continues normally with nothing lost."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + WEBHOOK, json={"sender": "u4", "message": "hello"})
        await _post_raw(server, b'{"sender": "u4", "message": "' + b"a" * 3000 + b'"}')
        async with http.post(server + WEBHOOK, json={"sender": "u4", "message": "are you a bot?"}) as resp:
            assert resp.status == 200
        async with http.get(server + "/conversations/u4/tracker", headers=AUTH) as resp:
            tracker = await resp.json()
    assert [e["text"] for e in tracker["events"] if e["event"] == "user"] == ["hello", "are you a bot?"]
