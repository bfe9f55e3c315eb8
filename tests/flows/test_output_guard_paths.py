"""What the output guard withholds is withheld everywhere: REST, the widget socket, the tracker and the agent.

A stage placed just before the guard utters account data to an unverified customer through the real event
path (a flow's :func:`~bot.flows.slots.utter`, or :meth:`~bot.pipeline.turn.Turn.say`) and hands off, so the same turn
also builds the agent's context package.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.flows.slots import utter
from bot.kernel.events import BotUttered, Escalated
from bot.pipeline.turn import Escalation, StageResult, Turn
from bot.testing.server import serve_app
from tests.conftest import TEST_TOKENS

#: Where the leaked order is said to be: text no legitimate reply of this test contains.
SECRET = "with Northwind Freight"
VALUES = {"order_number": "A1001", "status": f"on its way {SECRET}", "eta": "Arriving Thursday."}
VERIFY_FIRST = "I need to verify your identity before I can share account details."
ADMIN = {"Authorization": "Bearer test-admin-token"}
AGENT = {"Authorization": f"Bearer {TEST_TOKENS[0].token}"}
WIDGET_ID = "w_" + "g" * 24


def by_flow(turn: Turn) -> None:
    """Utter the order status the way a flow step or an action's dispatcher does."""
    utter(turn, "utter_order_status", values=VALUES)


def by_say(turn: Turn) -> None:
    """Utter the order status with the turn's own :meth:`~bot.pipeline.turn.Turn.say`."""
    turn.say("utter_order_status", **VALUES)


class LeakAndHandOff:
    """Says account data whatever the customer is verified or not, then asks for a human."""

    name = "leak"

    def __init__(self, speak: Callable[[Turn], None]) -> None:
        self.speak = speak

    async def run(self, turn: Turn) -> StageResult:
        self.speak(turn)
        return Escalation("requested")


@pytest.fixture(params=[by_flow, by_say], ids=["flow-utter", "turn-say"])
async def leaky(request: pytest.FixtureRequest, runtime: Runtime) -> AsyncIterator[str]:
    """The demo app with the leaking stage in the answering chain (the closing output guard runs after it);
    yields its base URL."""
    from connectors.web import create_app

    stages = runtime.engine.stages
    stages.insert(next(i for i, s in enumerate(stages) if s.name == "dialogue"), LeakAndHandOff(request.param))
    async with serve_app(create_app(runtime)) as url:
        yield url


def leaked(texts: list[str]) -> list[str]:
    return [t for t in texts if SECRET in t]


async def check_everywhere_but_the_channel(http: aiohttp.ClientSession, url: str, runtime: Runtime,
                                           conversation_id: str) -> None:
    """Stored events, the tracker, the context package built at the handoff and the agent's view."""
    state = await runtime.engine.state(conversation_id)
    said = [e.text for e in state.events if isinstance(e, BotUttered)]
    assert VERIFY_FIRST in said
    assert leaked(said) == []
    escalated = next(e for e in state.events if isinstance(e, Escalated))
    assert leaked([line["text"] for line in escalated.context["transcript"]]) == []
    assert leaked([a["text"] for a in escalated.context["attempted_answers"]]) == []

    async with http.get(f"{url}/conversations/{conversation_id}/tracker", headers=ADMIN) as response:
        assert response.status == 200, await response.text()
        tracker: dict[str, Any] = await response.json()
    assert leaked([e.get("text") or "" for e in tracker["events"]]) == []

    async with http.get(f"{url}/api/handoff/{conversation_id}", headers=AGENT) as response:
        assert response.status == 200, await response.text()
        view: dict[str, Any] = await response.json()
    assert VERIFY_FIRST in [line["text"] for line in view["context"]["transcript"]]
    assert leaked([line["text"] for line in view["context"]["transcript"]]) == []


async def test_withheld_on_rest_and_wherever_the_turn_is_recorded(leaky: str, runtime: Runtime) -> None:
    """Over REST the customer gets the verify-first notice, and no stored or agent-facing copy has the data."""
    async with aiohttp.ClientSession() as http:
        body = {"sender": "guard-rest", "message": "where is my order A1001?"}
        async with http.post(f"{leaky}/webhooks/rest/webhook", json=body) as response:
            assert response.status == 200, await response.text()
            replies: list[dict[str, Any]] = await response.json()
        texts = [r["text"] for r in replies]
        assert VERIFY_FIRST in texts
        assert leaked(texts) == []
        assert not any(r.get("custom", {}).get("account_data") for r in replies)
        await check_everywhere_but_the_channel(http, leaky, runtime, "guard-rest")


async def test_withheld_on_the_widget_socket(leaky: str, runtime: Runtime) -> None:
    """The widget's live items (pushed from the bus) carry the notice, never the withheld message."""
    socket = f"{leaky.replace('http', 'ws', 1)}/ws/chat?conversation_id={WIDGET_ID}"
    async with aiohttp.ClientSession() as http:
        async with http.ws_connect(socket) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "history"
            await ws.send_json({"type": "message", "id": "m1", "text": "where is my order A1001?"})
            frames: list[dict[str, Any]] = []
            while not any(f["type"] == "ack" for f in frames) or not any(
                    f["type"] == "item" and f["item"]["kind"] == "handoff" for f in frames):
                frames.append(await ws.receive_json(timeout=10))  # the turn's events come in one batch
        bot_texts = [f["item"].get("text", "") for f in frames if f["type"] == "item" and f["item"]["kind"] == "bot"]
        assert VERIFY_FIRST in bot_texts
        assert leaked(bot_texts) == []
        async with http.ws_connect(socket) as ws:
            history = await ws.receive_json(timeout=10)
        assert leaked([str(item.get("text", "")) for item in history["items"]]) == []
        await check_everywhere_but_the_channel(http, leaky, runtime, WIDGET_ID)
