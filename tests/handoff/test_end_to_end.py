"""Done-when of issue 6: a customer on REST gets angry, is escalated (reason emotional) with a complete context,
an agent claims and replies from the console in Chromium, the customer receives it, the agent returns the
conversation to the bot, and the bot answers the next message — with nothing the customer wrote lost."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.handoff.context import context_schema
from bot.kernel.events import AgentMessage

from .conftest import ADMIN_AUTH, AGENT_AUTH, validate

WEBHOOK = "/webhooks/rest/webhook"
CHROMIUM = "/usr/bin/chromium"
ANGRY = "this is absolutely useless, I am furious with your company!!"


async def _say(http: aiohttp.ClientSession, server: str, text: str) -> list[dict[str, Any]]:
    async with http.post(server + WEBHOOK, json={"sender": "e2e", "message": text}) as resp:
        assert resp.status == 200
        replies: list[dict[str, Any]] = await resp.json()
        return replies


@pytest.mark.browser
async def test_angry_customer_to_agent_and_back_to_the_bot(server: str, runtime: Runtime) -> None:
    """REST → angry → queue (emotional, full context) → console claims and replies → customer gets it →
    return to bot → the bot answers the next message, every customer message kept in order."""
    from playwright.async_api import async_playwright, expect

    async with aiohttp.ClientSession() as http:
        first = await _say(http, server, "where is my order?")
        assert first, "the bot answers before the handoff"
        await _say(http, server, "it still hasn't arrived, this is ridiculous")
        escalation = await _say(http, server, ANGRY)
        assert "member of our team" in escalation[0]["text"] and "number 1 in the queue" in escalation[-1]["text"]
        assert await _say(http, server, "hello? is anyone there?") == []

        async with http.get(server + "/api/handoff/queue", headers=AGENT_AUTH) as resp:
            entry = (await resp.json())["queue"][0]
        assert (entry["conversation_id"], entry["reason"], entry["team"]) == ("e2e", "emotional", "care")
        async with http.get(server + "/api/handoff/e2e", headers=AGENT_AUTH) as resp:
            context = (await resp.json())["context"]
        assert validate(context, context_schema()) == []
        assert context["signals"] and context["sentiment"]["trend"] == "worsening"
        assert context["flows"]["active"], "the interrupted flow is in the context"
        assert [t["text"] for t in context["transcript"] if t["from"] == "customer"] == [
            "where is my order?", "it still hasn't arrived, this is ridiculous", ANGRY, "hello? is anyone there?"]
        assert context["attempted_answers"] and context["summary"]

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
            try:
                page = await browser.new_page()
                await page.goto(server + "/agent/")
                await page.get_by_label("Access token").fill("agent-token-123")
                await page.get_by_role("button", name="Log in").click()
                await expect(page.locator("#who")).to_contain_text("amy", timeout=10_000)
                item = page.locator(".queue-item", has_text="e2e")
                await expect(item).to_contain_text("emotional")
                await item.click()
                await expect(page.locator("#context")).to_contain_text("worsening")
                await expect(page.locator("#transcript")).to_contain_text("hello? is anyone there?")
                await page.get_by_role("button", name="Claim").click()
                await expect(page.locator("#conv-status")).to_contain_text("agent by amy")

                async with runtime.engine.bus.subscribe("e2e") as inbox:
                    await page.get_by_label("Reply to the customer").fill("Hi, I'm Amy. I'm sorry about your order.")
                    await page.get_by_role("button", name="Send").click()
                    delivered = None
                    while not isinstance(delivered, AgentMessage):
                        _, delivered = await asyncio.wait_for(inbox.get(), 10)
                assert delivered.text == "Hi, I'm Amy. I'm sorry about your order."
                await expect(page.locator("#transcript")).to_contain_text("I'm sorry about your order")

                assert await _say(http, server, "ok, thank you") == []
                await expect(page.locator("#transcript")).to_contain_text("ok, thank you", timeout=10_000)
                await page.get_by_role("button", name="Return to bot").click()
                await expect(page.locator("#conv-status")).to_contain_text("Status: bot")
            finally:
                await browser.close()

        after = await _say(http, server, "can you help me with something else?")
        assert after and all("member of our team" not in m["text"] for m in after)

        async with http.get(server + "/conversations/e2e/tracker", headers=ADMIN_AUTH) as resp:
            tracker = await resp.json()
    customer = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    assert customer == ["where is my order?", "it still hasn't arrived, this is ridiculous", ANGRY,
                        "hello? is anyone there?", "ok, thank you", "can you help me with something else?"]
    kinds = [e["event"] for e in tracker["events"]]
    assert kinds.index("escalated") < kinds.index("agent_joined") < kinds.index("agent_message") \
        < kinds.index("returned_to_bot")
    assert tracker["status"] == "bot"
    resumed = [e["metadata"]["utter_action"] for e in tracker["events"][kinds.index("returned_to_bot"):]
               if e["event"] == "bot"]
    assert resumed[0] == "utter_resume_flow", "the interrupted flow resumes with its open question"
