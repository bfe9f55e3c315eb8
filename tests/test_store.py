"""The conversation store behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.kernel.errors import ConcurrentWriteError, StoreError
from bot.kernel.events import BotUttered, Escalated, Event, SlotSet, UserUttered
from bot.storage import ConversationStore, open_database
from bot.storage.conversations import DuplicateMessage


async def _store(url: str) -> ConversationStore:
    store = ConversationStore(await open_database(url))
    await store.setup()
    return store


def _texts(events: Sequence[Event]) -> list[str]:
    """The text of each event (every one of them an utterance)."""
    said = [e for e in events if isinstance(e, UserUttered | BotUttered)]
    assert len(said) == len(events), events
    return [e.text for e in said]


async def test_appended_events_load_back_in_order(database_url: str) -> None:
    """Events appended in two batches load back in order with their fields intact."""
    store = await _store(database_url)
    try:
        seq = await store.append("c1", [UserUttered(text="hi", intent="greet", confidence=0.9),
                                        BotUttered(text="hello")], expected_seq=0)
        assert seq == 2
        await store.append("c1", [SlotSet(name="order_number", value="A1001")], expected_seq=2)
        state = await store.load("c1")
        assert [e.type for e in state.events] == ["user", "bot", "slot"]
        first = state.events[0]
        assert isinstance(first, UserUttered) and first.intent == "greet"
        assert state.slots == {"order_number": "A1001"}
        assert (await store.load("other")).events == []
    finally:
        await store.db.close()


async def test_a_stale_writer_is_refused(database_url: str) -> None:
    """Appending after a sequence another writer already used raises ConcurrentWriteError and stores nothing."""
    store = await _store(database_url)
    try:
        await store.append("c1", [UserUttered(text="first")], expected_seq=0)
        with pytest.raises(ConcurrentWriteError):
            await store.append("c1", [UserUttered(text="second"), BotUttered(text="x")], expected_seq=0)
        state = await store.load("c1")
        assert _texts(state.events) == ["first"]
    finally:
        await store.db.close()


async def test_concurrent_appends_never_interleave(database_url: str) -> None:
    """Twenty writers racing on one sequence number: exactly one wins."""
    store = await _store(database_url)
    try:
        results = await asyncio.gather(
            *(store.append("race", [UserUttered(text=str(i))], expected_seq=0) for i in range(20)),
            return_exceptions=True,
        )
        assert sum(1 for r in results if r == 1) == 1
        assert all(isinstance(r, ConcurrentWriteError) for r in results if r != 1)
        assert len((await store.load("race")).events) == 1
    finally:
        await store.db.close()


async def test_conversation_index_tracks_status(database_url: str) -> None:
    """The conversation list knows each conversation's status and can filter by it."""
    store = await _store(database_url)
    try:
        await store.append("a", [UserUttered(text="hi", channel="web")], expected_seq=0)
        await store.append("b", [UserUttered(text="help"), Escalated(reason="requested")], expected_seq=0)
        handoff = await store.list(status="handoff")
        assert [c.conversation_id for c in handoff] == ["b"]
        everything = {c.conversation_id: c for c in await store.list()}
        assert everything["a"].status == "bot" and everything["a"].channel == "web"
        assert everything["b"].last_seq == 2
    finally:
        await store.db.close()


async def test_sqlite_store_survives_reopening(tmp_path: Path) -> None:
    """Events written to a SQLite file are there after the database is closed and reopened."""
    url = f"sqlite:///{tmp_path / 'x.db'}"
    store = await _store(url)
    await store.append("c", [UserUttered(text="persist me")], expected_seq=0)
    await store.db.close()
    reopened = await _store(url)
    try:
        assert _texts((await reopened.load("c")).events)[0] == "persist me"
    finally:
        await reopened.db.close()


async def test_bad_database_urls_are_refused_clearly() -> None:
    """Unsupported schemes and unsafe schema names raise StoreError naming the problem."""
    with pytest.raises(StoreError, match="unsupported database URL"):
        await open_database("mysql://localhost/db")
    with pytest.raises(StoreError, match="invalid schema name"):
        await open_database("postgresql://127.0.0.1/test?schema=x;drop")


async def test_a_cancelled_write_never_wedges_the_store(database_url: str) -> None:
    """Appends cancelled at any point (a caller hanging up) leave the store able to write afterwards."""
    store = await _store(database_url)
    try:
        seq = 0
        for ticks in range(25):
            task = asyncio.create_task(store.append("c", [UserUttered(text=f"maybe {ticks}")], expected_seq=seq))
            for _ in range(ticks):
                await asyncio.sleep(0)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            seq = len((await store.load("c")).events)
            seq = await store.append("c", [UserUttered(text=f"sure {ticks}")], expected_seq=seq)
        texts = _texts((await store.load("c")).events)
        assert [t for t in texts if t.startswith("sure")] == [f"sure {i}" for i in range(25)]
    finally:
        await store.db.close()


async def test_a_client_message_id_is_stored_once_per_conversation(database_url: str) -> None:
    """A second user event with a stored message id is refused (DuplicateMessage) even at a fresh sequence
    number, as from a worker that raced past the lock; another conversation may use the same id."""
    store = await _store(database_url)
    try:
        await store.append("c1", [UserUttered(text="cancel", message_id="m-1"), BotUttered(text="ok")],
                           expected_seq=0)
        with pytest.raises(DuplicateMessage):
            await store.append("c1", [UserUttered(text="cancel", message_id="m-1")], expected_seq=2)
        assert [e.type for e in (await store.load("c1")).events] == ["user", "bot"]
        await store.append("c2", [UserUttered(text="cancel", message_id="m-1")], expected_seq=0)
        await store.append("c1", [UserUttered(text="no id"), UserUttered(text="no id")], expected_seq=2)
    finally:
        await store.db.close()


async def test_a_closed_database_is_a_store_error(database_url: str) -> None:
    """Using a store whose database was closed raises StoreError (HTTP 503), not a driver or attribute error."""
    store = await _store(database_url)
    await store.append("c", [UserUttered(text="before")], expected_seq=0)
    await store.db.close()
    with pytest.raises(StoreError, match="closed"):
        await store.load("c")
