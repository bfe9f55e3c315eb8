"""The ops console in headless Chromium: switch a flow off with a reason, see the audit, roll back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ADMIN = {"Authorization": "Bearer test-admin-token"}
FEEDBACK = "I want to give feedback"


@pytest.fixture
async def page(server: str) -> AsyncIterator[Any]:
    """A Chromium page (Debian's browser; never `playwright install`) signed in to the console."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await browser.new_page()
            page.set_default_timeout(10_000)
            await page.goto(server + "/ops")
            await page.fill("#token", "ops-token-1234")
            await page.click("#login button[type=submit]")
            await page.wait_for_selector("#switch-flows input[data-name=feedback]")
            yield page
        finally:
            await browser.close()


async def tracker(server: str, http: aiohttp.ClientSession, sender: str) -> dict[str, Any]:
    """The customer says they want to give feedback; returns the conversation's tracker."""
    async with http.post(server + "/webhooks/rest/webhook", json={"sender": sender, "message": FEEDBACK}) as resp:
        assert resp.status == 200
    async with http.get(f"{server}/conversations/{sender}/tracker", headers=ADMIN) as resp:
        return dict(await resp.json())


async def answer_reason(page: Any, reason: str) -> None:
    """Fill the console's reason dialog and confirm."""
    await page.wait_for_selector("#reason-dialog[open]")
    await page.fill("#reason-input", reason)
    await page.click("#reason-ok")


async def test_flow_switched_off_on_the_console_hands_off_and_rolls_back(server: str, page: Any) -> None:
    """Switching the feedback flow off on the console makes the next feedback turn hand off with reason
    'scope', the audit log names who, what and why, and rolling back to version 1 lets the bot serve it again."""
    toggle = "#switch-flows input[data-name=feedback]"
    assert await page.is_checked(toggle)
    await page.click(toggle)
    await answer_reason(page, "feedback flow misbehaving")
    await page.wait_for_function(
        "() => document.querySelector('#scope-version').textContent === '2'")
    assert not await page.is_checked(toggle)
    latest = page.locator("#audit-log li").first
    assert "flow feedback off" in await latest.inner_text()
    assert "olga" in await latest.inner_text() and "feedback flow misbehaving" in await latest.inner_text()

    async with aiohttp.ClientSession() as http:
        blocked = await tracker(server, http, "browser-1")
        assert blocked["status"] == "handoff" and blocked["handoff"]["reason"] == "scope"

        await page.click("#history-table tr[data-version='1'] button.rollback")
        await answer_reason(page, "fixed; restore the original scope")
        await page.wait_for_function(
            "() => document.querySelector('#scope-version').textContent === '3'")
        assert await page.is_checked(toggle)
        assert "restored version 1" in await page.locator("#audit-log li").first.inner_text()

        served = await tracker(server, http, "browser-2")
        assert served["status"] == "bot" and served["active_flow"] == "feedback"


async def test_a_change_needs_a_reason(server: str, page: Any) -> None:
    """Cancelling the reason dialog changes nothing: the switch stays on and the scope stays at version 1."""
    toggle = "#switch-flows input[data-name=feedback]"
    await page.click(toggle)
    await page.wait_for_selector("#reason-dialog[open]")
    await page.click("#reason-cancel")
    await page.wait_for_function("() => !document.querySelector('#reason-dialog').open")
    assert await page.is_checked(toggle)
    assert await page.text_content("#scope-version") == "1"
    async with aiohttp.ClientSession() as http, http.get(
            server + "/api/ops/scope", headers={"Authorization": "Bearer ops-token-1234"}) as resp:
        assert (await resp.json())["version"] == 1


async def test_kpis_and_charts_render(server: str, page: Any) -> None:
    """The console shows the KPI tiles, a line per series in the chart, and switches windows on click."""
    async with aiohttp.ClientSession() as http:
        await http.post(server + "/webhooks/rest/webhook", json={"sender": "kpi-1", "message": "agent please"})
    await page.click("#windows button[data-window='hour']")
    await page.wait_for_function(
        "() => document.querySelector('[data-kpi=conversations] .value').textContent === '1'")
    assert await page.text_content("[data-kpi=escalation_rate] .value") == "100.0%"
    assert await page.locator("#series-chart path.series").count() == 3
    assert await page.locator("#reasons-chart rect.bar").count() == 1
    assert await page.text_content("#queue-length") == "1"


async def test_an_agent_token_is_refused(server: str) -> None:
    """Signing in with an agent's token shows that the ops role is required and keeps the console hidden."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await browser.new_page()
            await page.goto(server + "/ops")
            await page.fill("#token", "agent-token-123")
            await page.click("#login button[type=submit]")
            await page.wait_for_function(
                "() => document.querySelector('#status').textContent.includes('ops role')")
            assert await page.is_hidden("#app")
        finally:
            await browser.close()
