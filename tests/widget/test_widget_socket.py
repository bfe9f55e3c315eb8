"""The widget's server side over a real socket: origin allow-list, rate limit, length cap, resume, REST fallback."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from pydantic import ValidationError

from bot.infra.ratelimit import LocalLimiter, Rate
from bot.kernel.events import AgentMessage, AgentNote, SlotSet, UserUttered
from bot.project.schema import ProjectConfig
from connectors.web.widget_config import WidgetConfig
from connectors.web.widget_protocol import public_items
from tests.widget.conftest import Site, SiteFactory

CID = "w_" + "a" * 24
SHOP = "https://shop.example.com"


def ws_url(site: Site, conversation: str = CID) -> str:
    return f"{site.url.replace('http', 'ws', 1)}/ws/chat?conversation_id={conversation}"


async def frames_until(ws: aiohttp.ClientWebSocketResponse, kind: str) -> list[dict[str, Any]]:
    """Frames received up to and including the first of type ``kind``."""
    seen = []
    while True:
        frame = await ws.receive_json(timeout=10)
        seen.append(frame)
        if frame["type"] == kind:
            return seen


async def turn_frames(ws: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Frames of one answered turn: until both the ack and a bot item arrived (in either order)."""
    seen: list[dict[str, Any]] = []
    while not (any(f["type"] == "ack" for f in seen)
               and any(f["type"] == "item" and f["item"]["kind"] == "bot" for f in seen)):
        seen.append(await ws.receive_json(timeout=10))
    return seen


async def test_socket_refuses_pages_not_on_the_allow_list(make_site: SiteFactory) -> None:
    """An allow-listed origin and the server's own connect; any other origin gets HTTP 403."""
    async with make_site(widget=WidgetConfig(allowed_origins=[SHOP])) as site, aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect(ws_url(site), headers={"Origin": "https://evil.example"})
        assert refused.value.status == 403
        for origin in (SHOP, site.url):
            async with http.ws_connect(ws_url(site), headers={"Origin": origin}) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "history"


async def test_socket_rejects_conversation_ids_it_did_not_issue(site: Site) -> None:
    """Ids must be 'w_' plus 22+ random characters, so the widget cannot open REST or voice conversations."""
    async with aiohttp.ClientSession() as http:
        for bad in ("u1", "w_short", "w_" + "a" * 23 + "!"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(ws_url(site, bad))
            assert refused.value.status == 400


async def test_messages_beyond_the_burst_are_refused_then_allowed_again(make_site: SiteFactory) -> None:
    """A connection may send `burst` messages at once; the next is refused with rate_limited and not stored."""
    widget = WidgetConfig(burst=2, messages_per_minute=6)
    async with make_site(widget=widget) as site, aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        await ws.receive_json(timeout=10)
        answers = []
        for n in range(3):
            await ws.send_json({"type": "message", "id": f"m{n}", "text": "hello"})
            answers.append((await frames_until(ws, "ack" if n < 2 else "error"))[-1])
        assert [a["type"] for a in answers] == ["ack", "ack", "error"]
        assert answers[2]["code"] == "rate_limited" and answers[2]["id"] == "m2"
        state = await site.runtime.engine.state(CID)
    assert [e.metadata["client_id"] for e in state.events if isinstance(e, UserUttered)] == ["m0", "m1"]


async def test_the_rate_limit_survives_a_reconnect_and_the_rest_fallback(make_site: SiteFactory) -> None:
    """Reconnecting does not refill the budget of a client in a conversation: the next message over the socket
    and over the REST fallback is refused with rate_limited and a retry_after, and is not stored."""
    widget = WidgetConfig(burst=2, messages_per_minute=6)
    async with make_site(widget=widget) as site, aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(site)) as ws:
            await ws.receive_json(timeout=10)
            for n in range(2):
                await ws.send_json({"type": "message", "id": f"m{n}", "text": "hello"})
                await frames_until(ws, "ack")
        async with http.ws_connect(ws_url(site)) as ws:
            await ws.receive_json(timeout=10)
            await ws.send_json({"type": "message", "id": "again", "text": "hello"})
            refused = (await frames_until(ws, "error"))[-1]
        assert refused["code"] == "rate_limited" and refused["id"] == "again" and 1 <= refused["retry_after"] <= 10
        async with http.post(f"{site.url}/widget/conversations/{CID}/messages", json={"id": "r", "text": "hi"}) as resp:
            assert resp.status == 429 and (await resp.json())["code"] == "rate_limited"
            assert 1 <= int(resp.headers["Retry-After"]) <= 10
        state = await site.runtime.engine.state(CID)
    assert [e.metadata["client_id"] for e in state.events if isinstance(e, UserUttered)] == ["m0", "m1"]


async def test_one_client_over_many_conversations_is_limited(make_site: SiteFactory) -> None:
    """A client opening a new conversation for every message is still held to its per-minute budget."""
    async with make_site(limits={"max_messages_per_minute_per_client": 3}) as site, aiohttp.ClientSession() as http:
        answers = []
        for n in range(4):
            cid = f"w_{n:0>24}"
            async with http.post(f"{site.url}/widget/conversations/{cid}/messages",
                                 json={"id": "m", "text": "hello"}) as resp:
                answers.append((resp.status, (await resp.json()).get("code")))
        assert answers == [(200, None)] * 3 + [(429, "rate_limited")]
        assert (await site.runtime.engine.state(f"w_{3:0>24}")).events == []


async def test_malformed_frames_get_an_error_frame_and_the_socket_stays_open(site: Site) -> None:
    """A deeply nested frame, a huge integer, a NaN or a lone surrogate in the text is answered with a
    bad_request error naming the problem; the socket still answers, nothing is stored, nothing handed off."""
    bad = {
        "nested deeper": '{"type": "message", "id": "n", "text": "hi", "x": ' + "[" * 5000 + "]" * 5000 + "}",
        "digits": '{"type": "message", "id": "d", "text": "hi", "n": ' + "9" * 5000 + "}",
        "NaN": '{"type": "message", "id": "f", "text": "hi", "n": NaN}',
        "surrogate": '{"type": "message", "id": "s", "text": "hi \\ud800 there"}',
        "NUL": '{"type": "message", "id": "z", "text": "hi\\u0000"}',
    }
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        await ws.receive_json(timeout=10)
        for problem, frame in bad.items():
            await ws.send_str(frame)
            error = (await frames_until(ws, "error"))[-1]
            assert error["code"] == "bad_request" and problem in error["reason"], (problem, error)
        await ws.send_json({"type": "ping"})
        assert (await frames_until(ws, "pong"))[-1] == {"type": "pong"}
    assert (await site.runtime.engine.state(CID)).events == []
    assert await site.runtime.database.fetchval("SELECT count(*) FROM events") == 0


async def test_the_frame_id_is_the_stored_message_id(site: Site) -> None:
    """The widget's message id reaches the engine as the client message id (a retry on any worker is one)."""
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        await ws.receive_json(timeout=10)
        await ws.send_json({"type": "message", "id": "abc-1", "text": "hello"})
        await frames_until(ws, "ack")
    users = [e for e in (await site.runtime.engine.state(CID)).events if isinstance(e, UserUttered)]
    assert [(e.message_id, e.channel) for e in users] == [("abc-1", "web")]


async def test_too_long_messages_are_refused_and_nothing_is_stored(site: Site) -> None:
    """A message over limits.max_message_chars gets a too_long error naming the limit."""
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        await ws.receive_json(timeout=10)
        await ws.send_json({"type": "message", "id": "long", "text": "x" * 2001})
        error = (await frames_until(ws, "error"))[-1]
    assert error["code"] == "too_long" and "2000" in str(error["reason"])
    assert (await site.runtime.engine.state(CID)).events == []


async def test_a_resent_message_is_stored_once(site: Site) -> None:
    """Sending the same message id again (a resend after a reconnect) is acknowledged without a second turn."""
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        await ws.receive_json(timeout=10)
        for _ in range(2):
            await ws.send_json({"type": "message", "id": "same", "text": "thanks"})
        acks = [f for f in await frames_until(ws, "ack") if f["type"] == "ack"]
        acks += [f for f in await frames_until(ws, "ack") if f["type"] == "ack"]
    assert [a.get("duplicate", False) for a in acks] == [False, True]
    state = await site.runtime.engine.state(CID)
    assert sum(1 for e in state.events if e.type == "user") == 1


async def test_a_new_connection_resumes_with_the_customers_view_of_history(site: Site) -> None:
    """A reconnecting page gets the history: the hidden start payload and internal events left out."""
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(ws_url(site)) as ws:
            await ws.receive_json(timeout=10)
            await ws.send_json({"type": "message", "id": "s", "text": "/greet", "start": True})
            await turn_frames(ws)
            await ws.send_json({"type": "message", "id": "b", "text": "/check_order_status",
                                "label": "Where is my order?"})
            live = await turn_frames(ws)
        assert {"kind": "user", "text": "Where is my order?", "client_id": "b"}.items() <= next(
            f["item"] for f in live if f["type"] == "item" and f["item"]["kind"] == "user").items()
        await site.runtime.engine.record(CID, [AgentNote(agent="amy", text="internal"), SlotSet(name="x", value=1)])
        async with http.ws_connect(ws_url(site)) as ws:
            history = await ws.receive_json(timeout=10)
    kinds = [i["kind"] for i in history["items"]]
    assert kinds[0] == "bot" and "Northwind assistant" in history["items"][0]["text"]
    assert [i["text"] for i in history["items"] if i["kind"] == "user"] == ["Where is my order?"]
    assert "internal" not in str(history) and "slot" not in kinds


async def test_rest_fallback_sends_and_polls_with_a_cursor(make_site: SiteFactory) -> None:
    """POST a message, then GET items since a cursor; allow-listed pages get CORS headers, others 403."""
    async with make_site(widget=WidgetConfig(allowed_origins=[SHOP])) as site, aiohttp.ClientSession() as http:
        base = f"{site.url}/widget/conversations/{CID}"
        async with http.post(base + "/messages", json={"id": "r1", "text": "hello"}, headers={"Origin": SHOP}) as resp:
            assert resp.status == 200 and (await resp.json())["type"] == "ack"
            assert resp.headers["Access-Control-Allow-Origin"] == SHOP
        async with http.get(base + "/items?since=0") as resp:
            first = await resp.json()
        assert [i["kind"] for i in first["items"]] == ["user", "bot"]
        async with http.get(base + f"/items?since={first['next']}") as resp:
            assert (await resp.json())["items"] == []
        async with http.get(base + "/items", headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403
        async with http.post(base + "/messages", json={"id": "r2", "text": "y" * 2001}) as resp:
            assert resp.status == 413 and (await resp.json())["code"] == "too_long"


async def test_widget_files_and_demo_page_are_served_with_safe_headers(site: Site) -> None:
    """The demo page carries a strict CSP and loads /widget.js; the config endpoint shows the settings."""
    async with aiohttp.ClientSession() as http:
        async with http.get(site.url + "/") as resp:
            page = await resp.text()
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert '<script src="/widget.js" defer></script>' in page
        async with http.get(site.url + "/widget.js") as resp:
            assert resp.status == 200 and resp.content_type == "text/javascript"
            assert "innerHTML" not in await resp.text()
        async with http.get(site.url + "/widget/config") as resp:
            config = await resp.json()
    assert config["title"] == "Northwind help" and config["brand_color"] == "#0b6e4f"
    assert config["max_message_chars"] == 2000


def test_widget_settings_are_validated_in_config_yml() -> None:
    """A colour that is not #rgb/#rrggbb or an origin with a path is refused when the project loads."""
    assert ProjectConfig.model_validate({"widget": {"title": "Help"}}).widget.title == "Help"
    for bad in ({"brand_color": "red;background:url(x)"}, {"allowed_origins": ["https://shop.example.com/page"]},
                {"colour": "#fff"}):
        with pytest.raises(ValidationError):
            ProjectConfig.model_validate({"widget": bad})


def test_token_bucket_refills_at_the_configured_rate() -> None:
    """Two at once, then one more every six seconds at 10 per minute; a refused attempt spends nothing."""
    now = [0.0]
    limiter = LocalLimiter(clock=lambda: now[0])
    rate = Rate(10, 2)
    assert [limiter.take("k", rate) for _ in range(2)] == [None, None]
    assert limiter.take("k", rate) == pytest.approx(6.0)
    now[0] = 5.9
    assert limiter.take("k", rate) == pytest.approx(0.1)
    now[0] = 6.1
    assert limiter.take("k", rate) is None
    assert limiter.take("other", rate) is None


def test_public_view_hides_internal_events() -> None:
    """Slots and agent notes are never part of what the widget receives."""
    assert public_items([SlotSet(name="pin", value="4567"), AgentNote(agent="amy", text="VIP")]) == []


async def test_after_a_bus_resync_the_socket_sends_the_stored_history_again(site: Site) -> None:
    """Events the bus never delivered (stored while Redis was away) reach the page once the bus resyncs:
    the socket sends a fresh ``history`` frame read from the store."""
    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url(site)) as ws:
        first = await ws.receive_json(timeout=10)
        assert first["type"] == "history"
        await site.runtime.engine.store.append(CID, [AgentMessage(agent="amy", text="missed by the bus")],
                                               expected_seq=len((await site.runtime.engine.state(CID)).events))
        site.runtime.engine.bus.resync("test")
        frame = await ws.receive_json(timeout=10)
    assert frame["type"] == "history"
    assert [i["text"] for i in frame["items"] if i["kind"] == "agent"] == ["missed by the bus"]
