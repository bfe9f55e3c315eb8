"""Derived conversation states kept per worker, so a turn does not reload and decode the whole event list.

The engine takes a conversation's state out of the cache under the conversation's lock, brings it up to date
with the store's sequence number as the check (nothing newer: no events read; newer events, e.g. from another
worker or an agent: only those are read and applied; fewer stored than cached: the cache is dropped and the
state reloaded), and puts it back only after its turn was committed. A turn that fails, times out or loses a
concurrent write leaves nothing in the cache, so the next turn reloads from the store.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.kernel.conversation import ConversationState

DEFAULT_SIZE = 2000
"""Conversations whose state a worker keeps (least recently used dropped first)."""


class StateCache:
    """An LRU of conversation id → derived state (not shared between workers; the store is the truth)."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._states: OrderedDict[str, ConversationState] = OrderedDict()
        self._size = size

    def take(self, conversation_id: str) -> ConversationState | None:
        """Remove and return the cached state (the caller puts it back with :meth:`keep` once committed)."""
        return self._states.pop(conversation_id, None)

    def keep(self, state: ConversationState) -> None:
        """Cache ``state`` (its ``events`` must be exactly what the store holds)."""
        self._states[state.conversation_id] = state
        self._states.move_to_end(state.conversation_id)
        while len(self._states) > self._size:
            self._states.popitem(last=False)

    def forget(self) -> None:
        """Drop every cached state (the store was replaced)."""
        self._states.clear()

    def __len__(self) -> int:
        return len(self._states)
