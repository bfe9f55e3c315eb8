"""The queue is a view over the conversation index: priority then wait, per team, position told to customers."""

from __future__ import annotations

from typing import Any

import pytest

from bot.app.runtime import Runtime
from bot.kernel.events import ConversationEnded, Escalated, UserUttered
from bot.kernel.messages import UserMessage
from bot.storage import ConversationStore, open_database

from .conftest import AMY, BOB, escalate


async def _escalate_with(rt: Runtime, conversation_id: str, reason: str, priority: int, at: float) -> None:
    await rt.engine.record(conversation_id, [UserUttered(text="help", timestamp=at),
                                             Escalated(reason=reason, team="care", priority=priority, timestamp=at)])


async def test_waiting_conversations_come_by_priority_then_wait(hrt: Runtime) -> None:
    """A newer emotional escalation is served before an older requested one; equal priority goes oldest first."""
    assert hrt.handoff is not None
    await _escalate_with(hrt, "old-requested", "requested", 4, 1000.0)
    await _escalate_with(hrt, "new-emotional", "emotional", 6, 3000.0)
    await _escalate_with(hrt, "older-emotional", "emotional", 6, 2000.0)
    entries = await hrt.handoff.queue.entries()
    assert [e.conversation_id for e in entries] == ["older-emotional", "new-emotional", "old-requested"]


async def test_claimed_conversations_follow_the_waiting_ones_and_closed_ones_leave(hrt: Runtime) -> None:
    """Claimed entries list after waiting ones with their agent; closing removes the entry."""
    assert hrt.handoff is not None
    await escalate(hrt, "a")
    await escalate(hrt, "b")
    await hrt.handoff.claim(AMY, "a")
    entries = await hrt.handoff.queue.entries()
    assert [(e.conversation_id, e.status, e.agent) for e in entries] == [("b", "handoff", None), ("a", "agent", "amy")]
    await hrt.handoff.close(AMY, "a", csat=False)
    assert [e.conversation_id for e in await hrt.handoff.queue.entries()] == ["b"]
    assert [e.conversation_id for e in await hrt.handoff.queue.entries(include_claimed=False)] == ["b"]


async def test_routing_maps_reasons_to_configured_teams(make_runtime: Any) -> None:
    """routing: in config.yml sends 'requested' to the team named there; unknown reasons use default_team."""
    rt: Runtime = await make_runtime(routing={"requested": "frontline"}, default_team="general")
    await escalate(rt, "r1")
    state = await rt.engine.state("r1")
    assert state.escalation is not None and state.escalation.team == "frontline"
    assert rt.project.config.handoff.team_for("something_new") == "general"
    assert rt.project.config.handoff.team_for("regulated") == "compliance"
    assert rt.handoff is not None
    assert [e.team for e in await rt.handoff.queue.entries(team="frontline")] == ["frontline"]


async def test_the_customer_is_told_their_place_and_the_expected_wait(hrt: Runtime) -> None:
    """The second customer waiting hears "number 2"; once claims have history, the expected wait too."""
    assert hrt.handoff is not None
    first = await escalate(hrt, "p1")
    assert first[-1].text == "You are number 1 in the queue."
    second = await escalate(hrt, "p2")
    assert second[-1].text == "You are number 2 in the queue."
    for index in range(3):
        await escalate(hrt, f"w{index}")
        await hrt.handoff.claim(BOB, f"w{index}")
    third = await escalate(hrt, "p3")
    assert third[-1].text == "You are number 3 in the queue; the expected wait is about 1 minute(s)."


@pytest.mark.postgres
async def test_the_index_columns_work_on_postgres_and_old_tables_get_them(pg_url: str) -> None:
    """On PostgreSQL an index created without the handoff columns gains them, and the queue reads them."""
    db = await open_database(pg_url)
    try:
        await db.execute("""CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, channel TEXT,
            status TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL,
            last_seq INTEGER NOT NULL)""")
        store = ConversationStore(db)
        await store.setup()
        await store.append("pg1", [UserUttered(text="help"), Escalated(reason="regulated", team="compliance",
                                                                       priority=7)], expected_seq=0)
        from bot.handoff.queue import HandoffQueue

        entries = await HandoffQueue(db).entries()
        assert [(e.conversation_id, e.reason, e.team, e.priority) for e in entries] == [
            ("pg1", "regulated", "compliance", 7)]
        await store.append("pg1", [ConversationEnded(by="amy")], expected_seq=2)
        assert await HandoffQueue(db).entries() == []
        summary = (await store.list())[0]
        assert summary.reason == "regulated" and summary.status == "closed"
    finally:
        await db.close()


async def test_an_old_sqlite_index_gains_the_handoff_columns(tmp_path: Any) -> None:
    """Opening a database made before the handoff columns adds them without losing rows."""
    db = await open_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        await db.execute("""CREATE TABLE conversations (conversation_id TEXT PRIMARY KEY, channel TEXT,
            status TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, last_seq INTEGER NOT NULL)""")
        await db.execute("INSERT INTO conversations VALUES ('x', 'rest', 'bot', 1, 1, 0)")
        await ConversationStore(db).setup()
        rows = await db.fetch("SELECT conversation_id, reason, agent FROM conversations")
        assert rows == [{"conversation_id": "x", "reason": None, "agent": None}]
    finally:
        await db.close()


async def test_user_messages_while_waiting_keep_the_entry(hrt: Runtime) -> None:
    """Customer messages during the wait leave the queue entry and its waiting time unchanged."""
    assert hrt.handoff is not None
    await escalate(hrt, "q1")
    before = (await hrt.handoff.queue.entries())[0]
    await hrt.engine.handle("q1", UserMessage("hello?"))
    after = (await hrt.handoff.queue.entries())[0]
    assert (after.conversation_id, after.status, after.waiting_since) == ("q1", "handoff", before.waiting_since)
