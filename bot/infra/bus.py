"""Fan-out of new conversation events to live listeners (agent console, widget sockets).

Subscribers get ``(conversation_id, event)`` pairs. Besides conversation events a subscriber may get a
:class:`Resync` notice: the bus lost its connection for a while (a Redis blip) and events committed
meanwhile may never arrive, so the subscriber should reload what it shows from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar

from bot.infra.logs import get_logger
from bot.kernel.errors import StoreError
from bot.kernel.events import Event, event_from_dict

log = get_logger(__name__)

Delivery = tuple[str, Event]


@dataclass(frozen=True, slots=True, kw_only=True)
class Resync(Event):
    """Not a conversation event and never stored: deliveries may have been missed before this notice
    (the bus reconnected); reload the conversation (or the queue) from the store. ``conversation_id`` of
    the delivery is the subscribed one, ``""`` for subscribers of every conversation."""

    type: ClassVar[str] = "resync"
    reason: str = "reconnected"


class EventBus:
    """In-process pub/sub: ``subscribe(None)`` hears every conversation, ``subscribe(id)`` one."""

    def __init__(self, *, queue_size: int = 1000) -> None:
        self._subscribers: dict[str | None, set[asyncio.Queue[Delivery]]] = {}
        self._queue_size = queue_size

    async def start(self) -> None:
        """Start delivering (nothing to do in-process)."""

    async def ping(self) -> None:
        """Raise :class:`StoreError` when the bus cannot deliver across workers (readiness)."""

    async def close(self) -> None:
        """Stop delivering."""

    def publish(self, conversation_id: str, events: Sequence[Event]) -> None:
        """Deliver ``events`` to every matching subscriber (a full queue drops its oldest item)."""
        for key in (conversation_id, None):
            for queue in self._subscribers.get(key, ()):
                for event in events:
                    _put(queue, (conversation_id, event))

    def resync(self, reason: str = "reconnected") -> None:
        """Tell every subscriber it may have missed events (see :class:`Resync`)."""
        notice = Resync(reason=reason)
        for key, queues in self._subscribers.items():
            for queue in queues:
                _put(queue, (key or "", notice))

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


def _put(queue: asyncio.Queue[Delivery], item: Delivery) -> None:
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)


class RedisEventBus(EventBus):
    """Fan-out across workers: events go through a Redis channel and every worker delivers them locally.

    A worker hears its own publications back through Redis, so each subscriber sees each event once
    whichever worker ran the turn. When the subscription drops, the listener reconnects with backoff
    (``event_bus_disconnected`` / ``event_bus_reconnected``) and then sends every subscriber a
    :class:`Resync` notice; a publication that Redis refused is delivered to this worker's subscribers
    directly (``event_publish_failed``).
    """

    def __init__(self, url: str, *, channel: str = "careline:events", queue_size: int = 1000,
                 client_name: str = "careline-bus", timeout: float = 2.0, backoff: tuple[float, float] = (0.1, 5.0),
                 idle_ping: float = 10.0) -> None:
        super().__init__(queue_size=queue_size)
        import redis.asyncio as redis

        self._redis = redis.from_url(url, client_name=client_name, socket_connect_timeout=timeout)
        self._channel = channel
        self._timeout = timeout
        self._backoff = backoff
        self._idle_ping = idle_ping
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._pending: set[asyncio.Task[object]] = set()
        self.connected = False
        """Whether the listener is subscribed right now."""

    async def start(self) -> None:
        """Start listening (returns once subscribed)."""
        self._task = asyncio.create_task(self._listen())
        try:
            await asyncio.wait_for(self._ready.wait(), timeout=10)
        except TimeoutError as exc:
            raise StoreError("could not subscribe to the Redis event channel within 10 s") from exc

    async def _listen(self) -> None:
        import redis.exceptions

        delay, failures = self._backoff[0], 0
        while True:
            try:
                await self._listen_once(reconnect=failures > 0)
            except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
                self.connected = False
                failures += 1
                if failures == 1:
                    log.warning("event_bus_disconnected", channel=self._channel, error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay, failures = self._backoff[0], 0

    async def _listen_once(self, *, reconnect: bool) -> None:
        """Subscribe and deliver until the connection fails (raises)."""
        import redis.exceptions

        pubsub = self._redis.pubsub()
        try:
            await asyncio.wait_for(pubsub.subscribe(self._channel), timeout=self._timeout)
            self.connected = True
            self._ready.set()
            if reconnect:
                log.info("event_bus_reconnected", channel=self._channel)
                self.resync()
            idle, pinged = 0.0, False
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is None:
                    idle += 1.0
                    if pinged and idle > self._timeout:
                        raise TimeoutError("Redis did not answer the listener's ping")
                    if not pinged and idle >= self._idle_ping:  # a silently dead connection shows itself here
                        await asyncio.wait_for(pubsub.ping(), timeout=self._timeout)
                        idle, pinged = 0.0, True
                    continue
                idle, pinged = 0.0, False
                if message.get("type") == "message":
                    self._deliver(message["data"])
        finally:
            with contextlib.suppress(redis.exceptions.RedisError, OSError):  # already broken: best effort
                await pubsub.aclose()

    def _deliver(self, raw: bytes) -> None:
        try:
            data = json.loads(raw)
            events = [event_from_dict(e) for e in data["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("event_bus_bad_message", error=str(exc))
            return
        EventBus.publish(self, data["conversation_id"], events)

    def publish(self, conversation_id: str, events: Sequence[Event]) -> None:
        payload = json.dumps({"conversation_id": conversation_id, "events": [e.to_dict() for e in events]},
                             default=str)
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(
            self._send(conversation_id, events, payload)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, conversation_id: str, events: Sequence[Event], payload: str) -> object:
        import redis.exceptions

        try:
            return await asyncio.wait_for(self._redis.publish(self._channel, payload), timeout=self._timeout)
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            # the events are committed; at least this worker's listeners hear them (the others resync)
            log.warning("event_publish_failed", conversation_id=conversation_id, error=str(exc))
            EventBus.publish(self, conversation_id, events)
            return None

    async def ping(self) -> None:
        import redis.exceptions

        if not self.connected:
            raise StoreError("the Redis event listener is not subscribed")
        try:
            await asyncio.wait_for(self._redis.ping(), timeout=self._timeout)
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            raise StoreError(f"Redis does not answer: {exc}") from exc

    async def close(self) -> None:
        """Stop listening and close the connection."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._redis.aclose()
