"""The web widget in real headless Chromium: the demo shop page, a whole customer journey, fallbacks."""

from __future__ import annotations

import re

import aiohttp
import pytest
from aiohttp import WSCloseCode
from playwright.async_api import Page, expect

from bot.kernel.events import CsatGiven
from connectors.web.widget import WIDGET as WIDGET_STATE
from tests.widget.conftest import AGENT, SCREENSHOTS, Site, conversation_id, page_errors

pytestmark = pytest.mark.browser

LOG = ".log"
BOT = ".msg.bot .text"
USER = ".msg.user .text"
CONNECTING = re.compile("connecting you", re.IGNORECASE)


async def say(page: Page, text: str) -> None:
    """Type ``text`` into the widget and press Enter."""
    await page.fill("textarea", text)
    await page.press("textarea", "Enter")


async def agent_api(site: Site, conversation: str, action: str, body: dict[str, object] | None = None) -> None:
    """Call the agents' handoff API as the agent Amy."""
    async with aiohttp.ClientSession() as http, http.post(
        f"{site.url}/api/handoff/{conversation}/{action}", json=body or {}, headers=AGENT
    ) as resp:
        assert resp.status == 200, await resp.text()


async def test_customer_journey_from_order_status_to_an_agent_and_csat(page: Page, site: Site) -> None:
    """Quick reply, order status after verification, history on reload, handoff, agent message, XSS as text, CSAT."""
    await page.goto(site.url + "/")
    await expect(page).to_have_title(re.compile("Northwind Living"))
    launcher = page.locator(".launcher")
    await expect(launcher).to_contain_text("Northwind help")
    assert await launcher.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(11, 110, 79)"

    await launcher.click()
    await expect(page.locator(BOT).first).to_contain_text("Northwind assistant")
    quick = page.locator(".replies button", has_text="Where is my order?")
    await expect(quick).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "widget-open.png"))

    await quick.click()
    await expect(page.locator(USER).last).to_have_text("Where is my order?")
    await expect(page.locator(BOT).last).to_contain_text("email address, phone number or order number")
    await say(page, "ada@example.com")
    await expect(page.locator(BOT).last).to_contain_text("date of birth or your postcode")
    await say(page, "10 December 1985")
    await expect(page.locator(LOG)).to_contain_text("verified")
    await say(page, "A1001")
    await expect(page.locator(LOG)).to_contain_text("on its way")

    await page.reload()
    await expect(page.locator(LOG)).to_contain_text("on its way")
    await expect(page.locator(USER, has_text="Where is my order?")).to_have_count(1)
    await expect(page.locator(BOT, has_text="Northwind assistant")).to_have_count(1)

    attack = '<img src=x onerror="window.__xss=1">'
    await say(page, attack)
    await say(page, "I want to talk to a human")

    await expect(page.locator(".status", has_text=CONNECTING)).to_have_count(1)
    shown = await page.locator(".msg").evaluate_all(
        "ms => ms.map(m => [m.className, m.querySelector('.text').textContent])")
    kinds = [kind for kind, text in shown if text in (attack, "I want to talk to a human")]
    first, second = (i for i, (_, text) in enumerate(shown) if text in (attack, "I want to talk to a human"))
    assert kinds == ["msg user", "msg user"]
    assert any(kind == "msg bot" for kind, _ in shown[first:second])  # sent back to back, the answer shows between
    conversation = await conversation_id(page)
    await agent_api(site, conversation, "claim")
    await expect(page.locator(".status", has_text="Amy")).to_have_count(1)
    agent_text = "Hi, Amy here. <b>Bold?</b><script>window.__xss=2</script>"
    await agent_api(site, conversation, "messages", {"text": agent_text})
    agent = page.locator(".msg.agent").last
    await expect(agent.locator(".text")).to_have_text(agent_text)
    await expect(agent.locator(".who")).to_have_text("Amy (agent)")
    await page.screenshot(path=str(SCREENSHOTS / "widget-agent.png"))

    await agent_api(site, conversation, "close", {})
    score = page.get_by_role("button", name="5 out of 5")
    await expect(score).to_be_visible()
    await score.click()
    await expect(page.locator(BOT, has_text="Thank you for your rating")).to_have_count(1)
    await expect(page.locator(USER).last).to_have_text("5 ★")
    state = await site.runtime.engine.state(conversation)
    assert [e.score for e in state.events if isinstance(e, CsatGiven)] == [5]

    assert await page.locator("#careline-widget").evaluate(
        "h => h.shadowRoot.querySelectorAll('.log img, .log script, .log b').length") == 0
    assert await page.evaluate("() => window.__xss") is None
    assert page_errors(page) == []


BREAK_WEBSOCKETS = """
window.WebSocket = class { constructor() { this.readyState = 3; setTimeout(() => {
  this.onerror && this.onerror(new Event('error')); this.onclose && this.onclose({ code: 1006 }); }, 5); }
  send() { throw new Error('closed'); } close() {} };
window.WebSocket.OPEN = 1;
"""


async def test_rest_fallback_when_websockets_are_blocked(page: Page, site: Site) -> None:
    """With websockets failing, the widget chats over HTTP and still receives the agent's messages."""
    await page.add_init_script(BREAK_WEBSOCKETS)
    await page.goto(site.url + "/")
    await page.locator(".launcher").click()
    await expect(page.locator(".panel")).to_have_attribute("data-transport", "rest")
    await expect(page.locator(".replies button").first).to_be_visible()
    await say(page, "agent please")
    await expect(page.locator(".status", has_text=CONNECTING)).to_have_count(1)
    conversation = await conversation_id(page)
    await agent_api(site, conversation, "claim")
    await agent_api(site, conversation, "messages", {"text": "Polling works too."})
    await expect(page.locator(".msg.agent .text")).to_have_text("Polling works too.")
    await expect(page.locator(USER, has_text="agent please")).to_have_count(1)


async def test_reconnects_and_resends_what_was_typed_while_offline(page: Page, site: Site) -> None:
    """When the socket drops, a message typed meanwhile is sent once after the reconnect."""
    await page.goto(site.url + "/")
    await page.locator(".launcher").click()
    panel = page.locator(".panel")
    await expect(panel).to_have_attribute("data-connection", "online")
    await expect(page.locator(".replies button").first).to_be_visible()
    for ws in list(site.app[WIDGET_STATE].sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY)
    await expect(panel).to_have_attribute("data-connection", "reconnecting")
    await say(page, "thank you")
    await expect(page.locator(".msg.user.pending")).to_have_count(1)
    await expect(panel).to_have_attribute("data-connection", "online", timeout=10_000)
    await expect(page.locator(BOT).last).to_contain_text("welcome")
    await expect(page.locator(USER, has_text="thank you")).to_have_count(1)
    await expect(page.locator(".msg.user.pending")).to_have_count(0)


async def test_keyboard_screen_reader_and_mobile_layout(page: Page, site: Site) -> None:
    """On a phone the panel fills the screen, opens and closes by keyboard, and announces messages."""
    await page.set_viewport_size({"width": 375, "height": 700})
    await page.goto(site.url + "/")
    launcher = page.locator(".launcher")
    await launcher.focus()
    await page.keyboard.press("Enter")
    panel = page.get_by_role("dialog", name="Northwind help")
    await expect(panel).to_be_visible()
    await expect(page.locator("textarea")).to_be_focused()
    await expect(page.get_by_role("log", name="Conversation")).to_have_attribute("aria-live", "polite")
    box = await panel.bounding_box()
    assert box is not None and box["width"] == 375 and box["height"] == 700
    await expect(page.locator(BOT).first).to_contain_text("Northwind assistant")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SCREENSHOTS / "widget-mobile.png"))
    await page.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(launcher).to_be_focused()
    await expect(launcher).to_have_attribute("aria-expanded", "false")
