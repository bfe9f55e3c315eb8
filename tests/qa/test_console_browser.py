"""The ops console's QA view in headless Chromium: score, follow a failing conversation to its transcript
with the failing turns highlighted, and mark a score as wrong."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime

from .conftest import OPS_AUTH, seed_examples

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"


async def test_follow_a_failure_to_its_transcript_and_mark_it_wrong(qrt: Runtime, qserver: str) -> None:
    """Scoring from the console lists no_rephrase's failure; opening it shows turns 3 and 4 highlighted (and
    no other); "Mark as wrong" records a review, and the criterion's agreement reads 0.0% of 1."""
    from playwright.async_api import async_playwright, expect

    await seed_examples(qrt, time.time())
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page: Any = await browser.new_page()
            page.set_default_timeout(15_000)
            await page.goto(qserver + "/ops")
            await page.fill("#token", "ops-token-1234")
            await page.click("#login button[type=submit]")
            await page.wait_for_selector("#qa-criteria tr[data-criterion=no_rephrase]")
            await page.click("#qa-score")
            await expect(page.locator("#status")).to_contain_text("Scored 3 conversation(s)")
            row = page.locator("#qa-criteria tr[data-criterion=no_rephrase]")
            await expect(row.locator("td.fail")).to_have_text("1")
            await row.click()
            failure = page.locator("#qa-failures button[data-conversation=qa-bad]")
            await expect(failure).to_contain_text("turn 3, 4")
            await failure.click()
            await expect(page.locator("#qa-conversation-id")).to_have_text("qa-bad")
            highlighted = page.locator("#qa-lines li.failing")
            await expect(highlighted).to_have_count(2)
            assert [await li.get_attribute("data-seq") for li in await highlighted.all()] == ["3", "4"]
            await expect(page.locator("#qa-lines li[data-seq='4']")).to_contain_text("that's not what I asked")

            await page.click("#qa-marks button.mark[data-criterion=no_rephrase]")
            await expect(page.locator("#qa-marks tr[data-criterion=no_rephrase] td.review")).to_contain_text(
                "marked wrong by olga")
            await expect(row.locator("td.agreement")).to_have_text("0.0% (1)")
        finally:
            await browser.close()

    async with aiohttp.ClientSession() as http, http.get(qserver + "/api/ops/qa?window=7d",
                                                         headers=OPS_AUTH) as resp:
        calibration = (await resp.json())["calibration"]["criteria"]
    assert calibration["no_rephrase"]["marked_wrong"] == 1
