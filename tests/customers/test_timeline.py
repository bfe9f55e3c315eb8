"""Agents see the customer: the handoff context's ``history`` and the console's timeline list the verified
customer's conversations across channels; an unverified customer's context shows none."""

from __future__ import annotations

import aiohttp
import pytest

from bot.app.runtime import Runtime
from bot.handoff.context import context_schema
from bot.kernel.events import Escalated
from tests.customers.test_continuity import leave_address_change_open, say
from tests.handoff.conftest import AGENT_AUTH, validate

CHROMIUM = "/usr/bin/chromium"


async def hand_off_verified(runtime: Runtime, conversation_id: str) -> None:
    await say(runtime, conversation_id, "where is my order?", "rest")
    await say(runtime, conversation_id, "ada@example.com", "rest")
    await say(runtime, conversation_id, "SW1A 1AA", "rest")
    await say(runtime, conversation_id, "I want to talk to a person", "rest")
    state = await runtime.engine.state(conversation_id)
    assert any(isinstance(e, Escalated) for e in state.events)


@pytest.mark.browser
async def test_agent_sees_both_conversations_on_the_customer_timeline(server: str, runtime: Runtime) -> None:
    """Chat (left open) then REST (handed off): the context package at escalation and the agent's live view carry
    both conversations with channel, reason and outcome, and the console lists them."""
    from playwright.async_api import async_playwright, expect

    chat = await leave_address_change_open(runtime)
    await hand_off_verified(runtime, "rest-h")
    state = await runtime.engine.state("rest-h")
    stored = next(e for e in state.events if isinstance(e, Escalated)).context
    assert [(h["conversation_id"], h["current"]) for h in stored["history"]] == [("rest-h", True), (chat, False)]
    async with aiohttp.ClientSession() as http, http.get(server + "/api/handoff/rest-h", headers=AGENT_AUTH) as resp:
        context = (await resp.json())["context"]
    assert validate(context, context_schema()) == []
    by_id = {h["conversation_id"]: h for h in context["history"]}
    assert by_id[chat]["channel"] == "web" and by_id[chat]["reason"] == "change_delivery_address"
    assert by_id[chat]["outcome"] == "open" and not by_id[chat]["open_handoff"]
    assert by_id["rest-h"]["channel"] == "rest" and by_id["rest-h"]["outcome"] == "handoff_open"
    assert by_id["rest-h"]["open_handoff"] and by_id["rest-h"]["csat"] is None

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = await browser.new_page()
            await page.goto(server + "/agent/")
            await page.get_by_label("Access token").fill("agent-token-123")
            await page.get_by_role("button", name="Log in").click()
            await page.locator(".queue-item", has_text="rest-h").click()
            timeline = page.locator("#timeline li")
            await expect(timeline).to_have_count(2, timeout=10_000)
            await expect(timeline.nth(0)).to_contain_text("rest")
            await expect(timeline.nth(0)).to_contain_text("open handoff")
            await expect(timeline.nth(1)).to_contain_text("web · change_delivery_address · open")
        finally:
            await browser.close()


async def test_an_unverified_customer_context_has_no_history(server: str, runtime: Runtime) -> None:
    """A customer who only gave an e-mail address and asked for a person: the context names no history."""
    await leave_address_change_open(runtime)
    await say(runtime, "rest-u", "where is my order?", "rest")
    await say(runtime, "rest-u", "ada@example.com", "rest")
    await say(runtime, "rest-u", "I want to talk to a person", "rest")
    async with aiohttp.ClientSession() as http, http.get(server + "/api/handoff/rest-u", headers=AGENT_AUTH) as resp:
        context = (await resp.json())["context"]
    assert context["customer"]["verified"] is False and context["history"] == []


async def test_the_timeline_carries_the_qa_criteria_a_conversation_failed(runtime: Runtime) -> None:
    """A chat conversation QA scored as failing ``no_rephrase`` shows that flag on the customer's timeline in the
    next conversation's handoff context; the new conversation, not scored, has none."""
    from bot.qa.scorecard import load_scorecard
    from bot.qa.store import ConversationScore, CriterionScore, QAStore

    chat = await leave_address_change_open(runtime)
    scorecard = load_scorecard(runtime.project.path)
    assert scorecard is not None
    store = QAStore(runtime.database)
    await store.setup()
    await store.save(ConversationScore(chat, scorecard.version, 8, 1.0, 1.0, "web", "bot", (), (), 0.5,
                                       (CriterionScore("no_rephrase", False, 1.0, (3, 4), "asked again"),
                                        CriterionScore("verified_first", True, 1.0, (), "")), {}))
    await hand_off_verified(runtime, "rest-q")
    state = await runtime.engine.state("rest-q")
    history = next(e for e in state.events if isinstance(e, Escalated)).context["history"]
    assert {h["conversation_id"]: h["qa_flags"] for h in history} == {chat: ["no_rephrase"], "rest-q": []}
