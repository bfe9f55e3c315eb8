"""The ops console's HTTP side over a real socket: roles, KPIs JSON, Prometheus metrics, the page."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import pytest

WEBHOOK = "/webhooks/rest/webhook"
OPS = {"Authorization": "Bearer ops-token-1234"}
ADMIN = {"Authorization": "Bearer test-admin-token"}
AGENT = {"Authorization": "Bearer agent-token-123"}
#: Every ops endpoint this module adds (the scope API is tested by its owner, and below for roles).
OPS_ENDPOINTS = ("/api/ops/kpis?window=day", "/api/ops/console", "/metrics")
SCOPE_ENDPOINTS = (("GET", "/api/ops/scope"), ("GET", "/api/ops/scope/history"), ("PUT", "/api/ops/scope"),
                   ("POST", "/api/ops/scope/rollback"))


def sample(text: str, metric: str, /, **labels: str) -> float:
    """The value of ``metric`` with ``labels`` in Prometheus text ``text`` (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = re.escape(metric) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(r"^" + pattern + r"$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_non_ops_tokens_get_403_and_no_token_401(server: str) -> None:
    """An agent's token is refused with 403 and a missing token with 401 on every ops endpoint."""
    async with aiohttp.ClientSession() as http:
        for path in OPS_ENDPOINTS:
            async with http.get(server + path, headers=AGENT) as resp:
                assert resp.status == 403, path
            async with http.get(server + path) as resp:
                assert resp.status == 401, path
        for method, path in SCOPE_ENDPOINTS:
            async with http.request(method, server + path, headers=AGENT, json={"reason": "x"}) as resp:
                assert resp.status == 403, (method, path)


async def test_ops_and_admin_tokens_are_accepted(server: str) -> None:
    """The ops token and the admin token both read every ops endpoint."""
    async with aiohttp.ClientSession() as http:
        for headers in (OPS, ADMIN):
            for path in OPS_ENDPOINTS:
                async with http.get(server + path, headers=headers) as resp:
                    assert resp.status == 200, (path, await resp.text())


async def test_kpis_count_live_conversations(server: str) -> None:
    """After one bot-only chat and one handoff on REST, the day's KPIs show 2 conversations, 1 escalated
    for reason 'requested', and 1 in the queue."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + WEBHOOK, json={"sender": "k1", "message": "hello"})
        await http.post(server + WEBHOOK, json={"sender": "k2", "message": "agent please"})
        async with http.get(server + "/api/ops/kpis?window=day", headers=OPS) as resp:
            assert resp.status == 200
            report = await resp.json()
    overall = report["overall"]
    assert overall["conversations"] == 2 and overall["escalated"] == 1
    assert overall["escalations_by_reason"] == {"requested": {"count": 1, "rate": 0.5}}
    assert report["by_channel"]["rest"]["conversations"] == 2
    assert report["queue_length"] == 1 and len(report["series"]) == 24


async def test_kpis_reject_an_unreadable_window(server: str) -> None:
    """?window=fortnight is a 400 naming the value."""
    async with aiohttp.ClientSession() as http, http.get(
            server + "/api/ops/kpis?window=fortnight", headers=OPS) as resp:
        assert resp.status == 400
        assert "fortnight" in (await resp.json())["error"]


async def test_metrics_count_turns_stages_escalations_and_queue(server: str) -> None:
    """/metrics counts turns per channel, times each stage, counts escalations by reason and shows the queue
    and scope state."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + WEBHOOK, json={"sender": "m1", "message": "hello"})
        await http.post(server + WEBHOOK, json={"sender": "m2", "message": "agent please"})
        async with http.get(server + "/metrics", headers=OPS) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = await resp.text()
    assert sample(text, "careline_turns_total", channel="rest") == 2
    assert sample(text, "careline_stage_seconds_count", stage="understand") >= 1
    assert sample(text, "careline_stage_seconds_count", stage="normalize") == 2
    assert sample(text, "careline_turn_seconds_count") == 2
    assert sample(text, "careline_escalations_total", reason="requested") == 1
    assert sample(text, "careline_queue_length") == 1
    assert sample(text, "careline_scope_automation") == 1 and sample(text, "careline_scope_rollout_percent") == 100


async def test_metrics_show_a_switched_off_flow(server: str) -> None:
    """A flow switched off through the scope API appears as careline_scope_switch_off{kind="flow"} 1."""
    async with aiohttp.ClientSession() as http:
        async with http.put(server + "/api/ops/scope", headers=OPS,
                            json={"flows": {"feedback": False}, "reason": "metrics test"}) as resp:
            assert resp.status == 200, await resp.text()
        async with http.get(server + "/metrics", headers=OPS) as resp:
            text = await resp.text()
    assert sample(text, "careline_scope_switch_off", kind="flow", name="feedback") == 1
    assert sample(text, "careline_scope_version") >= 2


async def test_console_lists_what_can_be_switched(server: str) -> None:
    """/api/ops/console names the project's flows and intents, the channels, the windows and breaker bounds."""
    async with aiohttp.ClientSession() as http, http.get(server + "/api/ops/console", headers=OPS) as resp:
        body = await resp.json()
    assert "feedback" in body["flows"] and "give_feedback" in body["intents"]
    assert {"web", "rest", "voice"} <= set(body["channels"])
    assert body["windows"] == ["hour", "day", "7d"]
    assert 0 < body["breaker"]["bounds"]["max_escalation_rate"] <= 1


@pytest.mark.parametrize(("path", "kind"), [("/ops", "text/html"), ("/ops/static/console.js", "text/javascript"),
                                            ("/ops/static/chart.js", "text/javascript"),
                                            ("/ops/static/console.css", "text/css")])
async def test_page_and_assets_are_served_locally(server: str, path: str, kind: str) -> None:
    """The console page and its assets come from the app itself (no CDN) with the right content type."""
    async with aiohttp.ClientSession() as http, http.get(server + path) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith(kind)
        body = await resp.text()
    assert re.search(r"https?://(?!www\.w3\.org/2000/svg\b)", body) is None  # the SVG namespace is no URL to fetch


async def test_unknown_asset_is_404(server: str) -> None:
    """Only the console's own assets are served: anything else under /ops/static is 404."""
    async with aiohttp.ClientSession() as http, http.get(server + "/ops/static/..%2Fops_console.py") as resp:
        assert resp.status == 404


async def test_metrics_count_breaker_trips_from_the_scope_history(runtime: Any, server: str) -> None:
    """A flow the circuit breaker switched off shows as careline_breaker_trips_total{flow=...} 1; an ops change
    of another flow does not count as a trip."""
    scope = runtime.ops.scope
    await scope.update({"flows": {"feedback": False}}, author="circuit-breaker", reason="escalation rate 80%",
                       kind="breaker")
    await scope.update({"flows": {"greet": False}}, author="olga", reason="manual")
    async with aiohttp.ClientSession() as http, http.get(server + "/metrics", headers=OPS) as resp:
        text = await resp.text()
    assert sample(text, "careline_breaker_trips_total", flow="feedback") == 1
    assert sample(text, "careline_breaker_trips_total", flow="greet") == 0
