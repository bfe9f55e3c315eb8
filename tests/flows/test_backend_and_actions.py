"""The Backend interface over HTTP and business actions on a Rasa action server, over real sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from rasa_sdk.executor import ActionExecutor

from bot.flows.actions import shipped_actions
from bot.flows.actions.executor import HttpExecutor
from bot.flows.backend import BackendConflict, DemoBackend, HttpBackend
from bot.flows.backend.base import Verification
from bot.flows.backend.server import create_backend_app
from bot.flows.runner import FlowRunner
from bot.kernel.errors import ProviderError
from bot.nlu.understander import Understander
from bot.project import Project
from bot.testing.server import serve_app
from tests.flows.conftest import dialogue_stage, make_runtime, order


@pytest.fixture
async def http_backend() -> AsyncIterator[tuple[HttpBackend, DemoBackend]]:
    """An HttpBackend talking to a demo backend served on a free port."""
    demo = DemoBackend.from_seed_file()
    async with serve_app(create_backend_app(demo)) as url:
        backend = HttpBackend(url)
        yield backend, demo
        await backend.close()


async def test_http_backend_reads_verifies_and_changes(http_backend: tuple[HttpBackend, DemoBackend]) -> None:
    """Lookup, verification, reads and a change go over HTTP and really change the served backend."""
    backend, demo = http_backend
    customer = await backend.find_customer("+44 20 7946 0011")
    assert customer is not None and customer.id == "C001"
    assert await backend.verify("C001", Verification(date_of_birth="1985-12-10"))
    assert not await backend.verify("C001", Verification(postcode="ZZ1 1ZZ"))
    assert await backend.get_order("A9999") is None
    changed = await backend.change_address("A1002", "1 New Road")
    assert changed.address == "1 New Road" and (await order(demo, "A1002")).address == "1 New Road"
    slots = await backend.free_slots("P2001")
    assert [s.start for s in slots] == ["2026-11-27T15:00", "2026-12-01T10:30"]


async def test_http_backend_translates_conflicts_and_outages(http_backend: tuple[HttpBackend, DemoBackend]) -> None:
    """A shipped order's cancellation is a BackendConflict; an unreachable server a ProviderError."""
    backend, _ = http_backend
    with pytest.raises(BackendConflict) as info:
        await backend.cancel_order("A1001")
    assert info.value.code == "already_shipped"
    down = HttpBackend("http://127.0.0.1:9", timeout=1.0)
    with pytest.raises(ProviderError) as outage:
        await down.get_order("A1001")
    assert outage.value.provider == "backend" and not outage.value.permanent
    await down.close()


async def test_one_time_codes_work_once() -> None:
    """A sent code verifies once and is then spent."""
    demo = DemoBackend.from_seed_file()
    assert await demo.send_code("C002") == "g***@example.com"
    code = demo.outbox[-1]["code"]
    assert await demo.verify("C002", Verification(code=code))
    assert not await demo.verify("C002", Verification(code=code))


async def test_actions_run_on_a_rasa_action_server(demo_project: Project, understander: Understander,
                                                    tmp_path: Path) -> None:
    """With action_endpoint set, actions run remotely over Rasa's protocol and the flow behaves the same."""
    from bot.kernel.messages import UserMessage

    remote = DemoBackend.from_seed_file()
    executor = ActionExecutor()
    for action in shipped_actions(remote):
        executor.register_action(action)
    calls: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(body["next_action"])
        result = await executor.run(body)
        return web.json_response(result.model_dump() if result else {"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    async with serve_app(app) as url:
        runtime = await make_runtime(demo_project, understander, tmp_path)
        action_server = HttpExecutor(f"{url}/webhook")
        dialogue_stage(runtime).runner = FlowRunner(action_server)
        try:
            for text in ("cancel my order", "ada@example.com", "SW1A 1AA", "A1002"):
                await runtime.engine.handle("c", UserMessage(text))
            replies = await runtime.engine.handle("c", UserMessage("yes"))
        finally:
            await action_server.close()
            await runtime.close()
    assert calls == ["action_verify_identity", "action_ask_order_number", "action_check_order_modifiable",
                     "action_cancel_order"]
    assert "is cancelled" in replies[0].text and replies[0].custom == {"account_data": True}
    assert (await order(remote, "A1002")).status == "cancelled"


async def test_an_unreachable_action_server_hands_off_with_reason_error(
        demo_project: Project, understander: Understander, tmp_path: Path) -> None:
    """When the action server is down the customer is told and handed to a person (reason error)."""
    from bot.kernel.messages import UserMessage

    runtime = await make_runtime(demo_project, understander, tmp_path)
    executor = HttpExecutor("http://127.0.0.1:9/webhook", timeout=1.0)
    dialogue_stage(runtime).runner = FlowRunner(executor)
    try:
        await runtime.engine.handle("c", UserMessage("where is my order"))
        await runtime.engine.handle("c", UserMessage("ada@example.com"))
        replies = await runtime.engine.handle("c", UserMessage("SW1A 1AA"))
        state = await runtime.engine.state("c")
    finally:
        await executor.close()
        await runtime.close()
    assert "couldn't reach our systems" in replies[0].text
    assert state.escalation is not None and state.escalation.reason == "error"
