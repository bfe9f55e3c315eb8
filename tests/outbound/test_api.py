"""The outbound ops API over HTTP (ops role), the console's outbound section in Chromium, and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.outbound.conftest import APPOINTMENT_DAY, Line

OPS = {"Authorization": "Bearer ops-token-1234"}
AGENT = {"Authorization": "Bearer agent-token-123"}
CHROMIUM = "/usr/bin/chromium"


async def _post(url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    headers = OPS if headers is None else headers
    async with aiohttp.ClientSession() as http, http.post(url, json=body, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=OPS if headers is None else headers) as resp:
        return resp.status, await resp.json(content_type=None)


async def test_campaigns_need_the_ops_role(line: Line) -> None:
    """No token is 401, an agent's token 403; nothing is created."""
    url = line.url + "/api/outbound/campaigns"
    body = {"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY}
    assert (await _post(url, body, {}))[0] == 401
    assert (await _post(url, body, AGENT))[0] == 403
    assert (await _get(url, AGENT))[0] == 403
    assert (await line.service.summary())["campaigns"] == []


async def test_create_view_pause_resume_cancel_over_http(line: Line) -> None:
    """A created campaign lists its targets with masked phones; pause, resume and cancel change its status and a
    cancelled campaign cannot resume (409)."""
    status, created = await _post(line.url + "/api/outbound/campaigns",
                                  {"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY, "name": "Fri"})
    assert status == 201
    campaign_id = created["campaign"]["id"]
    assert created["campaign"]["name"] == "Fri" and created["campaign"]["status"] == "active"
    [target] = created["targets"]
    assert target["id"] == "P2001" and target["phone"] == "*********0011"
    assert target["subject"] == {"id": "P2001"}  # no service, clinician, time or name in the ops view
    await line.service.tick()
    status, view = await _get(f"{line.url}/api/outbound/campaigns/{campaign_id}")
    assert status == 200 and view["outcomes"] == {"sent": 1} and len(view["attempts"]) == 1
    assert view["campaign"]["status"] == "done"  # every reminder went out
    _, other = await _post(line.url + "/api/outbound/campaigns",
                           {"kind": "appointments", "channel": "sms", "day": "2026-11-30"})
    other_id = other["campaign"]["id"]
    for action, expected in (("pause", "paused"), ("resume", "active"), ("cancel", "cancelled")):
        status, body = await _post(f"{line.url}/api/outbound/campaigns/{other_id}/{action}")
        assert status == 200 and body["status"] == expected
    status, body = await _post(f"{line.url}/api/outbound/campaigns/{other_id}/resume")
    assert status == 409 and "cancelled" in body["error"]
    assert await line.service.tick() == []  # the cancelled campaign makes no attempt
    status, listing = await _get(line.url + "/api/outbound/campaigns")
    assert status == 200 and listing["outcomes"] == {"sent": 1}


@pytest.mark.parametrize(("body", "reason"), [
    ({"kind": "everyone", "channel": "sms"}, "'kind' must be one of"),
    ({"kind": "appointments", "channel": "fax"}, "'channel' must be one of"),
    ({"kind": "delayed_orders", "channel": "voice"}, "order-delay notices"),
    ({"kind": "appointments", "channel": "webhook"}, "webhook_url"),
    ({"kind": "appointments", "channel": "sms", "rules": {"max_attempts": 0}}, "invalid 'rules'"),
    ({"kind": "appointments", "channel": "sms", "rules": {"window": {"start": "9am", "end": "17:00"}}},
     "invalid 'rules'"),
    ({"kind": "appointments", "channel": "sms", "day": "tomorrow"}, "ISO date"),
    ({"kind": "appointments", "channel": "sms", "colour": "red"}, "unknown key"),
])
async def test_bad_campaigns_get_a_400_with_the_reason(line: Line, body: dict[str, Any], reason: str) -> None:
    """Each malformed campaign is refused with a 400 that names the problem, and nothing is stored."""
    status, answer = await _post(line.url + "/api/outbound/campaigns", body)
    assert status == 400 and reason in answer["error"], answer
    assert (await line.service.summary())["campaigns"] == []


async def test_unknown_and_malformed_campaign_ids(line: Line) -> None:
    """A well-formed unknown id is 404; a malformed one 400."""
    assert (await _get(line.url + "/api/outbound/campaigns/0123456789ab"))[0] == 404
    assert (await _get(line.url + "/api/outbound/campaigns/nope"))[0] == 400


async def test_order_delay_notice_links_back_into_chat(line: Line) -> None:
    """Delayed orders (not delivered, ETA passed) get a message with the chat link and no order details."""
    line.clock.advance(24 * 3600)  # Friday 27 November: A1001 (shipped, due the 26th) is late
    campaign = await line.service.create({"kind": "delayed_orders", "channel": "sms"})
    targets = [t["id"] for t in (await line.service.view(campaign.id))["targets"]]
    assert "A1001" in targets and "A1003" not in targets  # A1003 was delivered
    await line.service.tick()
    assert len(line.twilio.messages) == len(targets)
    for sms in line.twilio.messages:
        assert line.service.config.chat_url in sms["Body"] and "A100" not in sms["Body"] and "sofa" not in sms["Body"]


@pytest.mark.browser
async def test_the_console_shows_outcomes_and_pauses_a_campaign(line: Line) -> None:
    """The ops console's outbound section shows each outcome's count and its Pause button pauses the campaign."""
    from playwright.async_api import async_playwright

    campaign = await line.service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
    await line.service.tick()
    await line.twilio.text(line.url + "/sms/inbound", from_="+442079460011", body="C")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                                   args=["--no-sandbox", "--disable-gpu"])
        try:
            page = await browser.new_page()
            page.set_default_timeout(10_000)
            await page.goto(line.url + "/ops")
            await page.fill("#token", "ops-token-1234")
            await page.click("#login button[type=submit]")
            await page.wait_for_selector(f"#outbound-campaigns tr[data-campaign='{campaign.id}']")
            confirmed = await page.text_content("#outbound-totals [data-outcome=confirmed] .value")
            assert confirmed == "1"
            other = await line.service.create({"kind": "appointments", "channel": "sms", "day": "2026-11-30"})
            await page.click("#logout")
            await page.fill("#token", "ops-token-1234")
            await page.click("#login button[type=submit]")
            await page.click(f"button[data-campaign='{other.id}'][data-action=pause]")
            await page.wait_for_selector(f"button[data-campaign='{other.id}'][data-action=resume]")
        finally:
            await browser.close()
    assert str((await line.service.get(other.id)).status) == "paused"


def test_cli_creates_runs_and_reports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``careline outbound create`` reads the targets, ``run --once`` without Twilio records the attempt as
    failed (outside the window it waits instead), and ``status`` prints the outcomes."""
    from click.testing import CliRunner

    from careline.cli import main

    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "CARELINE_PUBLIC_URL"):
        monkeypatch.delenv(name, raising=False)
    database = f"sqlite:///{tmp_path / 'cli.db'}"
    runner = CliRunner()
    created = runner.invoke(main, ["outbound", "create", "--kind", "appointments", "--channel", "sms",
                                   "--day", APPOINTMENT_DAY, "--database", database, "--name", "cli run"])
    assert created.exit_code == 0, created.output
    assert "1 target(s)" in created.output
    status = runner.invoke(main, ["outbound", "status", "--database", database])
    assert status.exit_code == 0 and "cli run" in status.output and "active" in status.output
    shown = runner.invoke(main, ["outbound", "status", "--database", database, "--json"])
    assert '"campaigns"' in shown.output
