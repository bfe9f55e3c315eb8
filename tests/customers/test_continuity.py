"""One customer across channels: a matter left open in the chat is offered, after verification only, on the
next channel, and finished there."""

from __future__ import annotations

import time

from bot.app.runtime import Runtime
from bot.customers.continuity import LinkVerified
from bot.kernel.events import FlowCancelled, MatterOffered, MatterResumed
from bot.kernel.messages import UserMessage

OFFER = "You were changing your delivery address of A1002 — shall we finish that?"


async def say(runtime: Runtime, conversation_id: str, text: str, channel: str, source: str | None = None) -> str:
    replies = await runtime.engine.handle(conversation_id, UserMessage(text, channel, source=source))
    return "\n".join(r.text for r in replies)


async def leave_address_change_open(runtime: Runtime, conversation_id: str = "w_chat0000000000000000000001") -> str:
    """Verify in the web chat and stop while the bot waits for the new delivery address."""
    await say(runtime, conversation_id, "I need to change the delivery address of my order", "web")
    await say(runtime, conversation_id, "ada@example.com", "web")
    assert "order number" in await say(runtime, conversation_id, "SW1A 1AA", "web")
    assert "new delivery address" in await say(runtime, conversation_id, "A1002", "web")
    return conversation_id


async def test_rest_customer_is_offered_the_chat_matter_after_verifying_and_finishes_it(runtime: Runtime) -> None:
    """The same customer on the REST channel hears the open matter only once verified, takes it up, and the
    address change completes there; the chat conversation no longer holds the flow."""
    chat = await leave_address_change_open(runtime)
    assert "A1002" not in await say(runtime, "rest-2", "where is my order?", "rest")
    before = await say(runtime, "rest-2", "ada@example.com", "rest")
    assert "A1002" not in before  # identified is not verified: nothing of the history shows
    verified = await say(runtime, "rest-2", "1985-12-10", "rest")
    assert "you're verified" in verified and OFFER in verified
    assert "new delivery address" in await say(runtime, "rest-2", "yes", "rest")
    confirm = await say(runtime, "rest-2", "1 Main Street, Leeds LS1 1AA", "rest")
    assert "A1002" in confirm
    done = await say(runtime, "rest-2", "yes", "rest")
    assert "1 Main Street" in done or "updated" in done.lower() or "changed" in done.lower(), done
    rest = await runtime.engine.state("rest-2")
    assert [e.flow_id for e in rest.events if isinstance(e, MatterResumed) and e.accepted] == \
        ["change_delivery_address"]
    old = await runtime.engine.state(chat)
    assert old.flow_stack == []
    assert {e.reason for e in old.events if isinstance(e, FlowCancelled)} == {"resumed_elsewhere"}
    assert runtime.customers is not None
    links = await runtime.customers.links("C001")
    assert {link.conversation_id for link in links} == {chat, "rest-2"}
    contacts = await runtime.customers.contacts("C001")
    assert {(c["kind"], c["value"]) for c in contacts} == {("email", "ada@example.com"), ("device", chat)}


async def test_an_unverified_contact_point_is_never_linked_or_shown_history(runtime: Runtime) -> None:
    """A caller who gives the customer's e-mail but a wrong proof gets no offer and no link."""
    await leave_address_change_open(runtime)
    await say(runtime, "rest-3", "where is my order?", "rest")
    await say(runtime, "rest-3", "ada@example.com", "rest")
    wrong = await say(runtime, "rest-3", "1970-01-01", "rest")
    assert "A1002" not in wrong and "shall we finish" not in wrong
    state = await runtime.engine.state("rest-3")
    assert not any(isinstance(e, MatterOffered) for e in state.events)
    assert runtime.customers is not None
    assert await runtime.customers.customer_of("rest-3") is None


async def test_declining_keeps_the_matter_where_it_was(runtime: Runtime) -> None:
    """"No" leaves the chat's flow untouched and the current flow asks its own question again."""
    chat = await leave_address_change_open(runtime)
    await say(runtime, "rest-4", "where is my order?", "rest")
    await say(runtime, "rest-4", "ada@example.com", "rest")
    assert OFFER in await say(runtime, "rest-4", "SW1A 1AA", "rest")
    assert "order number" in await say(runtime, "rest-4", "no", "rest")
    old = await runtime.engine.state(chat)
    assert [f.flow_id for f in old.flow_stack] == ["change_delivery_address"]


async def test_a_matter_older_than_the_window_is_not_offered(runtime: Runtime) -> None:
    """Past ``customers.resume_window`` the customer is verified as usual, with no offer."""
    await leave_address_change_open(runtime)
    link = next(s for s in runtime.engine.closing if isinstance(s, LinkVerified))
    window = runtime.project.config.customers.resume_window
    link.finder.clock = lambda: time.time() + window + 60
    await say(runtime, "rest-5", "where is my order?", "rest")
    await say(runtime, "rest-5", "ada@example.com", "rest")
    verified = await say(runtime, "rest-5", "SW1A 1AA", "rest")
    assert "you're verified" in verified and "shall we finish" not in verified
