"""Fan-out of new conversation events to live listeners (agent console, widget sockets)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from bot.events import Event, event_from_dict

Delivery = tuple[str, Event]


class EventBus:
    """In-process pub/sub: ``subscribe(None)`` hears every conversation, ``subscribe(id)`` one."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        self._subscribers: dict[str | None, set[asyncio.Queue[Delivery]]] = {}
        self._queue_size = queue_size

    async def start(self) -> None:
        """Start delivering (nothing to do in-process)."""

    async def close(self) -> None:
        """Stop delivering."""

    def publish(self, conversation_id: str, events: Sequence[Event]) -> None:
        """Deliver ``events`` to every matching subscriber (a full queue drops its oldest item)."""
        for key in (conversation_id, None):
            for queue in self._subscribers.get(key, ()):
                for event in events:
                    if queue.full():
                        queue.get_nowait()
                    queue.put_nowait((conversation_id, event))

    @asynccontextmanager
    async def subscribe(self, conversation_id: str | None) -> AsyncIterator[asyncio.Queue[Delivery]]:
        """A queue receiving (conversation_id, event) pairs until the block exits."""
        queue: asyncio.Queue[Delivery] = asyncio.Queue(self._queue_size)
        self._subscribers.setdefault(conversation_id, set()).add(queue)
        try:
            yield queue
        finally:
            self._subscribers[conversation_id].discard(queue)
            if not self._subscribers[conversation_id]:
                del self._subscribers[conversation_id]


class RedisEventBus(EventBus):
    """Fan-out across workers: events go through a Redis channel and every worker delivers them locally.

    A worker hears its own publications back through Redis, so each subscriber sees each event once
    whichever worker ran the turn.
    """

    def __init__(self, url: str, *, channel: str = "careline:events", queue_size: int = 1000) -> None:
        super().__init__(queue_size=queue_size)
        import redis.asyncio as redis

        self._redis = redis.from_url(url)
        self._channel = channel
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        """Start listening (returns once subscribed)."""
        self._task = asyncio.create_task(self._listen())
        await asyncio.wait_for(self._ready.wait(), timeout=10)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(self._channel)
        self._ready.set()
        try:
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                data = json.loads(message["data"])
                events = [event_from_dict(e) for e in data["events"]]
                EventBus.publish(self, data["conversation_id"], events)
        finally:
            await pubsub.aclose()

    def publish(self, conversation_id: str, events: Sequence[Event]) -> None:
        payload = json.dumps({"conversation_id": conversation_id, "events": [e.to_dict() for e in events]},
                             default=str)
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._send(payload)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, payload: str) -> object:
        return await self._redis.publish(self._channel, payload)

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()
