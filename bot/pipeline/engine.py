"""The engine: one customer message in, the bot's answers out, every channel alike.

``Engine.handle`` locks the conversation, loads its events, runs the turn's answering stages in order until
one answers or escalates, then the closing stages (:mod:`bot.pipeline.stages`), appends the new events and
publishes them. The engine knows nothing of HTTP or audio.

Faults: a whole turn (waiting for the lock included) has a deadline, ``turn_timeout``; a turn past it is
never committed (:class:`TurnTimedOut`, a :class:`~bot.kernel.errors.StoreError`: HTTP 503, safe to retry). A
message with a client ``message_id`` that the conversation already holds is not run again: the answer
is rebuilt from the stored turn (:func:`replies_to`), whichever worker stored it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

import structlog

from bot.infra.bus import EventBus
from bot.infra.locks import ConversationLocks, InProcessLocks
from bot.infra.logs import get_logger
from bot.kernel.conversation import ConversationState, Status
from bot.kernel.errors import ConcurrentWriteError, MessageTooLong, RateLimited, RequestError, StoreError
from bot.kernel.events import BotUttered, Event, UserUttered
from bot.kernel.messages import BotMessage, UserMessage
from bot.pipeline.stages import Escalate, Stage, closing_stages
from bot.pipeline.states import StateCache
from bot.pipeline.turn import CONTINUE, Escalation, StageResult, Turn, message_of
from bot.project import Project
from bot.storage import ConversationStore

log = get_logger(__name__)

MAX_CONVERSATION_ID = 128
MAX_MESSAGE_ID = 128


class TurnTimedOut(StoreError):
    """The turn did not finish within the engine's deadline; nothing of it was stored (retry it)."""

#: A client source's pseudonym: ``source -> key`` (see :meth:`bot.infra.settings.Settings.client_key`).
ClientKey = Callable[[str], str]

#: Told of every batch of events this worker committed: ``(conversation_id, events, turn)``; ``turn`` is
#: ``None`` for events recorded outside a customer turn. Observers must be quick and must not raise.
Observer = Callable[[str, Sequence[Event], Turn | None], None]


class Engine:
    """Runs turns for every conversation of one project."""

    def __init__(
        self,
        project: Project,
        store: ConversationStore,
        stages: Sequence[Stage],
        *,
        locks: ConversationLocks | None = None,
        bus: EventBus | None = None,
        client_key: ClientKey | None = None,
        turn_timeout: float = 30.0,
        closing: Sequence[Stage] | None = None,
    ) -> None:
        self.project = project
        self.states = StateCache()
        """Derived states of recent conversations (see :mod:`bot.pipeline.states`)."""
        self.store = store
        self.stages = list(stages)
        """The answering chain: each runs until one returns ``ANSWERED`` or an escalation."""
        self.closing = list(closing) if closing is not None else closing_stages()
        """Run after the chain whatever it returned (output guards, escalate, respond)."""
        self.locks = locks or InProcessLocks()
        self.bus = bus or EventBus()
        self.last_trace: list[str] = []
        self.observers: list[Observer] = []
        self.client_key = client_key
        self.turn_timeout = turn_timeout
        """Seconds a turn may take, waiting for the conversation's lock included; later, it is rolled back."""

    @property
    def store(self) -> ConversationStore:
        """Where the events are kept (replacing it drops the cached states)."""
        return self._store

    @store.setter
    def store(self, store: ConversationStore) -> None:
        self._store = store
        self.states.forget()

    async def _current(self, conversation_id: str) -> ConversationState:
        """The conversation's state as stored now (call under its lock): the cached state advanced by the events
        stored since, or a full load when nothing is cached or the store holds fewer events than the cache."""
        state = self.states.take(conversation_id)
        if state is None:
            return await self.store.load(conversation_id)
        stored = await self.store.last_seq(conversation_id)
        if stored < len(state.events):
            log.warning("state_cache_ahead_of_store", cached=len(state.events), stored=stored)
            return await self.store.load(conversation_id)
        if stored > len(state.events):
            for event in await self.store.events_after(conversation_id, len(state.events)):
                state.apply(event)
        return state

    def check(self, conversation_id: str, message: UserMessage) -> None:
        """Refuse bad input before anything is stored (raises :class:`RequestError`)."""
        if not conversation_id or len(conversation_id) > MAX_CONVERSATION_ID:
            raise RequestError(f"conversation id must be 1 to {MAX_CONVERSATION_ID} characters")
        if not message.text.strip():
            raise RequestError("message text is empty")
        cap = self.project.config.limits.max_message_chars
        if len(message.text) > cap:
            raise MessageTooLong(f"message is {len(message.text)} characters; the limit is {cap}")
        if message.message_id is not None and not 1 <= len(message.message_id) <= MAX_MESSAGE_ID:
            raise RequestError(f"message id must be 1 to {MAX_MESSAGE_ID} characters")

    async def handle(self, conversation_id: str, message: UserMessage) -> list[BotMessage]:
        """Run one turn; returns what the bot says (empty while a human owns the conversation)."""
        self.check(conversation_id, message)
        with structlog.contextvars.bound_contextvars(conversation_id=conversation_id, channel=message.channel):
            deadline = asyncio.timeout(self.turn_timeout)
            try:
                async with deadline:
                    turn, replayed = await self._locked_turn(conversation_id, message)
            except TimeoutError as exc:
                if not deadline.expired():
                    raise
                log.warning("turn_deadline_exceeded", seconds=self.turn_timeout)
                raise TurnTimedOut(f"the turn did not finish within {self.turn_timeout} s; nothing was stored"
                                   ) from exc
            if turn is None:
                log.info("message_replayed", message_id=message.message_id, replies=len(replayed))
                return replayed
            self.bus.publish(conversation_id, turn.events)
            self._observe(conversation_id, turn.events, turn)
            return turn.replies

    async def _locked_turn(self, conversation_id: str, message: UserMessage) -> tuple[Turn | None, list[BotMessage]]:
        """The committed turn, or ``(None, replies)`` when the message id was already answered."""
        async with self.locks.hold(conversation_id) as lease:
            attempt = 0
            while True:
                attempt += 1
                state = await self._current(conversation_id)
                if message.message_id is not None:
                    answered = replies_to(state.events, message.message_id)
                    if answered is not None:
                        self.states.keep(state)
                        return None, answered
                seq = len(state.events)
                turn = await self._run(state, message)
                if lease is not None:
                    await lease.check()  # a holder whose lease ran out must not commit (fencing)
                try:
                    stored = await self.store.append(conversation_id, turn.events, expected_seq=seq)
                except ConcurrentWriteError:
                    if attempt == 2:
                        raise
                    log.warning("turn_retried_after_concurrent_write")
                    continue
                self._keep(turn.state, stored)
                return turn, turn.replies

    def _keep(self, state: ConversationState, stored: int) -> None:
        """Cache a committed state when it holds exactly the ``stored`` events."""
        if len(state.events) == stored:
            self.states.keep(state)

    def client_of(self, message: UserMessage) -> str | None:
        """The stored pseudonym of the message's source (``None`` without a source)."""
        if message.source is None:
            return None
        if self.client_key is None:
            return message.source[:64]
        return self.client_key(message.source)

    def _user_event(self, message: UserMessage, *, for_agent: bool = False) -> UserUttered:
        return UserUttered(text=message.text, channel=message.channel, metadata=message.metadata,
                           for_agent=for_agent, client=self.client_of(message), message_id=message.message_id)

    async def _run(self, state: ConversationState, message: UserMessage) -> Turn:
        turn = Turn(self.project, state, message, message.text)
        started = time.perf_counter()
        retry_after = self._too_fast(state)
        if retry_after is not None:
            log.warning("conversation_rate_limited", retry_after=retry_after)
            raise RateLimited("too many messages in this conversation; wait before sending the next one",
                              retry_after=retry_after)
        if state.status in (Status.HANDOFF, Status.AGENT):
            turn.emit(self._user_event(message, for_agent=True))
            log.info("message_for_agent", status=str(state.status))
            return turn
        turn.emit(self._user_event(message))
        with structlog.contextvars.bound_contextvars(turn=state.turns):
            try:
                for stage in self.stages:
                    result = await self._timed(stage, turn)
                    if result is not CONTINUE:
                        turn.outcome, turn.answered_by = result, stage.name
                        break
                for stage in self.closing:
                    await self._timed(stage, turn)
            except Exception:
                log.exception("turn_failed", stage=turn.trace[-1] if turn.trace else None)
                turn = self._failed_turn(state, message, turn)
                await Escalate().run(turn)
            self.last_trace = turn.trace
            log.info("turn_handled", intent=turn.understanding.intent if turn.understanding else None,
                     replies=len(turn.replies), escalated=turn.escalation is not None,
                     ms=round((time.perf_counter() - started) * 1000, 1))
        return turn

    @staticmethod
    async def _timed(stage: Stage, turn: Turn) -> StageResult:
        turn.trace.append(stage.name)
        began = time.perf_counter()
        result = await stage.run(turn)
        turn.timings[stage.name] = time.perf_counter() - began
        return result

    def _too_fast(self, state: ConversationState) -> float | None:
        """Seconds to wait when the conversation already had its messages of the last minute, else ``None``."""
        limit = self.project.config.limits.max_turns_per_minute
        now = time.time()
        recent = []
        for event in reversed(state.events):  # newest first; two minutes back is enough even with skewed clocks
            if event.timestamp < now - 120:
                break
            if isinstance(event, UserUttered) and event.timestamp >= now - 60:
                recent.append(event.timestamp)
        if len(recent) < limit:
            return None
        return max(1.0, round(recent[limit - 1] + 60 - now, 1))

    def _failed_turn(self, state: ConversationState, message: UserMessage, broken: Turn) -> Turn:
        """Keep the customer's message, apologize and hand off (reason ``error``)."""
        user = next(e for e in broken.events if isinstance(e, UserUttered))
        new = {id(e) for e in broken.events}
        fresh = ConversationState(state.conversation_id)
        for event in state.events:
            if id(event) not in new:
                fresh.apply(event)
        turn = Turn(self.project, fresh, message, message.text)
        turn.emit(user)
        turn.outcome = Escalation("error", message="Sorry, something went wrong on our side. "
                                  "I'm passing you to a member of our team.")
        return turn

    async def record(self, conversation_id: str, events: Sequence[Event]) -> ConversationState:
        """Append events from outside a customer turn (agents, ops) under the conversation's lock."""
        state, _ = await self.record_with(conversation_id, lambda _state: events)
        return state

    async def record_with(self, conversation_id: str, build: Callable[[ConversationState], Sequence[Event]],
                          ) -> tuple[ConversationState, tuple[Event, ...]]:
        """The one write path outside a customer turn: under the conversation's lock, ``build`` reads the
        current state and returns the events to append (it may raise to refuse); they are stored, applied,
        published and shown to the observers (metrics). Returns the new state and the events."""
        async with self.locks.hold(conversation_id) as lease:
            state = await self._current(conversation_id)
            events = tuple(build(state))
            if lease is not None:
                await lease.check()
            stored = len(state.events)
            if events:
                stored = await self.store.append(conversation_id, events, expected_seq=len(state.events))
            for event in events:
                state.apply(event)
            self._keep(state, stored)
        if events:
            self.bus.publish(conversation_id, events)
            self._observe(conversation_id, events, None)
        return state, events

    def _observe(self, conversation_id: str, events: Sequence[Event], turn: Turn | None) -> None:
        for observer in self.observers:
            try:
                observer(conversation_id, events, turn)
            except Exception:  # an observer (metrics) must never fail a committed turn; logged with traceback
                log.exception("observer_failed", observer=repr(observer))

    async def state(self, conversation_id: str) -> ConversationState:
        """The conversation's current derived state."""
        return await self.store.load(conversation_id)


def replies_to(events: Sequence[Event], message_id: str) -> list[BotMessage] | None:
    """What the bot answered to the user message with ``message_id`` (its bot events up to the next user
    message), or ``None`` when no stored message has that id."""
    for index, event in enumerate(events):
        if isinstance(event, UserUttered) and event.message_id == message_id:
            replies = []
            for later in events[index + 1:]:
                if isinstance(later, UserUttered):
                    break
                if isinstance(later, BotUttered):
                    replies.append(message_of(later))
            return replies
    return None
