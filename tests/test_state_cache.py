"""A worker keeps conversations' derived states: a turn reads only what was stored since, never a stale state."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

from bot.app.runtime import Runtime
from bot.infra.embeddings import ServingEncoder
from bot.kernel.conversation import ConversationState
from bot.kernel.errors import ConcurrentWriteError
from bot.kernel.events import AgentMessage, SlotSet, UserUttered
from bot.kernel.messages import UserMessage
from bot.storage import ConversationStore


def count_calls(monkeypatch: pytest.MonkeyPatch, store: ConversationStore, name: str) -> list[Any]:
    """Record the arguments of every call of ``store.<name>``."""
    calls: list[Any] = []
    original: Callable[..., Any] = getattr(store, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        return await original(*args, **kwargs)

    monkeypatch.setattr(store, name, counted)
    return calls


async def test_later_turns_do_not_reload_the_conversation(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first turn loads the (empty) conversation; the next ones reuse the committed state."""
    loads = count_calls(monkeypatch, runtime.engine.store, "load")
    reads = count_calls(monkeypatch, runtime.engine.store, "events_after")
    for text in ("hello", "are you a bot?", "thanks"):
        await runtime.engine.handle("c", UserMessage(text))
    assert len(loads) == 1 and reads == []
    cached = runtime.engine.states.take("c")
    stored = await runtime.engine.store.load("c")
    assert cached is not None and [e.to_dict() for e in cached.events] == [e.to_dict() for e in stored.events]


async def test_events_stored_by_someone_else_reach_the_next_turn(runtime: Runtime) -> None:
    """Another worker or an agent appends behind this worker's back: the next turn applies those events."""
    await runtime.engine.handle("c", UserMessage("hello"))
    seq = await runtime.engine.store.last_seq("c")
    await runtime.engine.store.append("c", [SlotSet(name="customer_name", value="Ann"),
                                            AgentMessage(agent="amy", text="hi from the desk")], expected_seq=seq)
    await runtime.engine.handle("c", UserMessage("are you a bot?"))
    cached = runtime.engine.states.take("c")
    assert cached is not None and cached.slots.get("customer_name") == "Ann"
    assert len(cached.events) == await runtime.engine.store.last_seq("c")
    assert any(isinstance(e, AgentMessage) and e.text == "hi from the desk" for e in cached.events)


async def test_a_store_with_fewer_events_than_the_cache_is_read_again(runtime: Runtime) -> None:
    """A cached state ahead of the store (the store was reset) is dropped and the conversation reloaded."""
    await runtime.engine.handle("c", UserMessage("hello"))
    ahead = runtime.engine.states.take("c")
    assert ahead is not None
    ahead.apply(UserUttered(text="never stored"))
    runtime.engine.states.keep(ahead)
    await runtime.engine.handle("c", UserMessage("are you a bot?"))
    state = await runtime.engine.store.load("c")
    assert not any(isinstance(e, UserUttered) and e.text == "never stored" for e in state.events)


async def test_a_turn_that_loses_a_concurrent_write_leaves_no_state_behind(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the append fails, the state the turn changed in memory is not cached (the next turn reloads)."""
    await runtime.engine.handle("c", UserMessage("hello"))

    async def refuse(conversation_id: str, events: Sequence[object], *, expected_seq: int) -> int:
        raise ConcurrentWriteError("another writer")

    monkeypatch.setattr(runtime.engine.store, "append", refuse)
    with pytest.raises(ConcurrentWriteError):
        await runtime.engine.handle("c", UserMessage("are you a bot?"))
    assert runtime.engine.states.take("c") is None


async def test_replacing_the_store_forgets_the_cached_states(runtime: Runtime) -> None:
    """A new store means the cached states describe nothing."""
    await runtime.engine.handle("c", UserMessage("hello"))
    assert len(runtime.engine.states) == 1
    runtime.engine.store = runtime.engine.store
    assert len(runtime.engine.states) == 0


class Recording:
    """An encoder that records every text it encodes."""

    def __init__(self, inner: ServingEncoder) -> None:
        self.inner = inner.encoder
        self.dimension = inner.dimension
        self.model_path = inner.model_path
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode(texts)

    async def aencode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode(texts)


async def test_a_turn_encodes_the_customers_text_once(runtime: Runtime) -> None:
    """Guards, understanding and knowledge share one encoder: the message is encoded once, not per stage."""
    assert runtime.encoder is not None
    recording = Recording(runtime.encoder)
    runtime.encoder.encoder = recording
    text = "what happens if my parcel turns up damaged?"
    await runtime.engine.handle("c", UserMessage(text))
    state: ConversationState = await runtime.engine.state("c")
    assert any(type(e).__name__ == "KnowledgeConsulted" for e in state.events)  # the knowledge stage ran
    assert recording.texts.count(text) == 1
