"""The processor between the caller's words and the bot: transcripts and keys in, spoken answers out.

Engine calls are shielded from the call's teardown: a caller hanging up mid-turn must not cancel a
store write halfway (the turn is recorded whole, or not at all).

The caller's finished turn (a :class:`~connectors.voice.turns.CallerTurnFrame`, sent when the turn
ends) or digit entry goes to the same :class:`~bot.pipeline.engine.Engine` the chat
uses, on channel ``voice``; each answer goes to TTS as one ``TTSSpeakFrame``. Barge-in: when an
interruption arrives while answers are being spoken, the part the caller heard is recorded as a
``BotUttered(interrupted=True)`` so the transcript (and an agent) sees what was cut.

Every turn goes in with ``source`` the connector saw (``caller:<From>`` from the call's stream token, or
``call:<CallSid>``), so rate limits and lockouts count the caller across calls; a caller id is a hint
Twilio passes on, never proof of who is calling.

DTMF: keys gather until ``#`` or a pause. While no flow step waits for an answer, ``0`` asks for a human
at once and, with spoken choices on offer, ``1``..``9`` picks one at once; while a step collects (a
phone number, a PIN), every key is part of the entry. After a handoff, agent messages published
on the engine's bus are spoken to the caller, so the call can stay with a console agent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    InputDTMFFrame,
    InterimTranscriptionFrame,
    InterruptionFrame,
    StartFrame,
    TranscriptionFrame,
    TTSSpeakFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.flows.progress import collecting_slot
from bot.infra.logs import get_logger
from bot.kernel.conversation import ConversationState, Status
from bot.kernel.errors import CarelineError, RateLimited
from bot.kernel.events import AgentMessage, BotUttered
from bot.kernel.messages import BotMessage, Button, UserMessage
from bot.pipeline.engine import Engine
from bot.project import Project
from connectors.voice.config import VoiceConfig
from connectors.voice.lm import Expect, Expectation
from connectors.voice.speech import choose, default_normalizer, spoken_text
from connectors.voice.stt import ExpectFrame
from connectors.voice.turns import CallerTurnFrame

log = get_logger(__name__)

TROUBLE = "Sorry, I'm having trouble right now. Please try again in a moment."
SLOW_DOWN = "Sorry, that was a lot at once. Please wait a moment, then try again."
#: A collected slot filled from one of these built-in entities (see bot/nlu/entities.py) is answered in a
#: closed form: a 4-digit PIN, a 6-digit one-time code, a phone number, an order number like A1001.
ENTITY_EXPECTATIONS = {"pin": Expectation(Expect.DIGITS, digits=4), "otp_code": Expectation(Expect.DIGITS, digits=6),
                       "phone": Expectation(Expect.DIGITS), "order_number": Expectation(Expect.CODE, digits=4)}
#: A slot without entity mappings whose name has one of these is answered with digits (keypad or spoken).
DIGIT_SLOT_HINTS = ("pin", "otp", "passcode", "digits", "zip", "phone")


@dataclass(slots=True)
class Spoken:
    """Answers handed to TTS and not yet fully played (what an interruption cuts)."""

    messages: list[BotMessage] = field(default_factory=list)
    started_at: float | None = None


@dataclass(slots=True)
class CallLog:
    """What happened on the call, for the simulated caller's checks and the benchmarks."""

    turns: list[dict[str, Any]] = field(default_factory=list)
    interrupted: int = 0
    handed_off: bool = False


HandoffHook = Callable[[ConversationState], Awaitable[None]]


class EngineBridge(FrameProcessor):
    """Hands finished caller turns and key presses to the engine; speaks its answers."""

    def __init__(self, engine: Engine, project: Project, conversation_id: str, config: VoiceConfig, *,
                 metadata: dict[str, Any] | None = None, source: str | None = None,
                 on_handoff: HandoffHook | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.engine = engine
        self.project = project
        self.conversation_id = conversation_id
        self.config = config
        self.metadata = dict(metadata or {})
        self.source = source
        self.on_handoff = on_handoff
        self.log = CallLog()
        self._normalize = default_normalizer()
        self._digits = ""
        self._digit_timer: asyncio.Task[None] | None = None
        self._buttons: tuple[Button, ...] = ()
        self._expectation = Expectation()
        self._collecting = False
        self._spoken = Spoken()
        self._bot_speaking = False
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self._agent_listener: asyncio.Task[None] | None = None
        self._status = Status.BOT

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame)):
            return  # the turn's words arrive whole, as a CallerTurnFrame
        if isinstance(frame, CallerTurnFrame):
            self._spawn(self._caller_said(frame.text))
            return
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._spawn(self._greet())
            return
        if isinstance(frame, InterruptionFrame):
            await self._interrupted()
        elif isinstance(frame, InputDTMFFrame):
            await self._key(frame.button.value)
        elif isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
            if self._spoken.messages and self._spoken.started_at is None:
                self._spoken.started_at = time.monotonic()
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
            self._spoken = Spoken()
        elif isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_background()
        await self.push_frame(frame, direction)

    # --- caller input -------------------------------------------------------------------------

    async def _caller_said(self, said: str) -> None:
        payload = choose(said, self._buttons) if self._expectation.kind is Expect.CHOICE else None
        text = payload or self._normalize(said)
        await self._turn(text, {"source": "speech", "transcript": said})

    async def _key(self, key: str) -> None:
        if self._bot_speaking and self.config.turns.barge_in:
            await self._interrupted()
            await self.broadcast_interruption()
        dtmf = self.config.dtmf
        if key == dtmf.end_key:
            await self._flush_digits()
            return
        if key == "*":
            self._digits = ""
            return
        if not self._digits and not self._collecting:
            if key == self.project.guardrails.human_request.dtmf:
                await self._submit_digits(key)
                return
            if self._buttons and key.isdigit() and 1 <= int(key) <= len(self._buttons):
                await self._submit_digits(key, self._buttons[int(key) - 1].payload)
                return
        self._digits = (self._digits + key)[: dtmf.max_digits]
        self._restart_digit_timer()

    def _restart_digit_timer(self) -> None:
        if self._digit_timer is not None:
            self._digit_timer.cancel()

        async def expire() -> None:
            await asyncio.sleep(self.config.dtmf.inter_digit_secs)
            self._digit_timer = None
            await self._flush_digits()

        self._digit_timer = self.create_task(expire(), "dtmf_timeout")

    async def _flush_digits(self) -> None:
        timer, self._digit_timer = self._digit_timer, None
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        digits, self._digits = self._digits, ""
        if digits:
            await self._submit_digits(digits)

    async def _submit_digits(self, digits: str, payload: str | None = None) -> None:
        self._spawn(self._turn(payload or digits, {"source": "dtmf", "dtmf": digits}))

    # --- the engine ---------------------------------------------------------------------------

    async def _turn(self, text: str, metadata: dict[str, Any]) -> None:
        async with self._lock:
            started = time.perf_counter()
            try:
                replies = await asyncio.shield(self.engine.handle(
                    self.conversation_id,
                    UserMessage(text, "voice", {**self.metadata, **metadata}, source=self.source)))
                state = await self.engine.state(self.conversation_id)
            except RateLimited as exc:  # nothing was stored: the caller hears why, the call goes on
                log.warning("voice_turn_refused", error=str(exc), retry_after=exc.retry_after)
                await self._say([BotMessage(SLOW_DOWN)], record=False)
                return
            except CarelineError as exc:
                log.error("voice_turn_failed", error=str(exc), error_type=type(exc).__name__)
                await self._say([BotMessage(TROUBLE)], record=False)
                return
            engine_ms = (time.perf_counter() - started) * 1000
            self.log.turns.append({"text": text, "source": metadata.get("source"), "replies": [r.text for r in replies],
                                   "engine_ms": round(engine_ms, 1)})
            log.info("voice_turn", source=metadata.get("source"), replies=len(replies), engine_ms=round(engine_ms, 1))
            await self._say(replies, record=False)
            await self._expect(state, replies)
            if state.status is Status.HANDOFF and self._status is not Status.HANDOFF:
                self.log.handed_off = True
                self._listen_for_agent()
                if self.on_handoff is not None:
                    self._spawn(self.on_handoff(state))
            self._status = state.status

    async def _greet(self) -> None:
        name = self.config.greeting
        if not name:
            return
        variant = self.project.response(name, "voice")
        if variant is None:
            return
        message = BotMessage(variant.text, tuple(Button(b.title, b.payload) for b in variant.buttons), response=name)
        async with self._lock:
            await self._say([message], record=True)
            self._buttons = message.buttons
            self._expectation = Expectation(Expect.CHOICE, tuple(b.title for b in message.buttons)) \
                if message.buttons else Expectation()
            await self.push_frame(ExpectFrame(expectation=self._expectation), FrameDirection.UPSTREAM)

    async def _say(self, messages: list[BotMessage], *, record: bool) -> None:
        """Speak ``messages``; ``record`` appends them to the conversation (the engine records its own)."""
        messages = [m for m in messages if m.text.strip()]
        if not messages:
            return
        if record:
            try:
                await asyncio.shield(self.engine.record(self.conversation_id, [
                    BotUttered(text=m.text, response=m.response, buttons=tuple(b.to_dict() for b in m.buttons))
                    for m in messages]))
            except CarelineError as exc:
                log.error("voice_record_failed", error=str(exc))
        self._spoken.messages.extend(messages)
        for message in messages:
            await self.push_frame(TTSSpeakFrame(spoken_text(self._voice_variant(message))))

    def _voice_variant(self, message: BotMessage) -> BotMessage:
        """The ``<response>_voice`` wording of a response when the project has one (e.g. utter_handoff_voice)."""
        if message.response:
            variant = self.project.response(f"{message.response}_voice", "voice")
            if variant is not None:
                return BotMessage(variant.text, message.buttons, response=message.response)
        return message

    async def _expect(self, state: ConversationState, replies: list[BotMessage]) -> None:
        buttons = next((r.buttons for r in reversed(replies) if r.buttons), ())
        expectation = expected_answer(state, self.project)
        self._collecting = expectation is not None
        if expectation is None:
            expectation = Expectation(Expect.CHOICE, tuple(b.title for b in buttons)) if buttons else Expectation()
        self._buttons = buttons if expectation.kind is Expect.CHOICE else ()
        self._expectation = expectation
        await self.push_frame(ExpectFrame(expectation=expectation), FrameDirection.UPSTREAM)

    async def _interrupted(self) -> None:
        """Record what the caller heard of the answer they talked over."""
        spoken, self._spoken = self._spoken, Spoken()
        if not spoken.messages or spoken.started_at is None:
            return
        elapsed = time.monotonic() - spoken.started_at
        heard_words = int(elapsed * self.config.tts.words_per_minute / 60)
        text = " ".join(spoken_text(m) for m in spoken.messages)
        tokens = text.split()
        if heard_words >= len(tokens):
            return
        cut = spoken.messages[0]
        heard = " ".join(tokens[:heard_words]) + " …"
        self.log.interrupted += 1
        log.info("voice_barge_in", heard_words=heard_words, total_words=len(tokens))
        self._spawn(self._record_interruption(heard, cut.response))

    async def _record_interruption(self, heard: str, response: str | None) -> None:
        try:
            await asyncio.shield(self.engine.record(self.conversation_id, [
                BotUttered(text=heard, response=response, interrupted=True)]))
        except CarelineError as exc:
            log.error("voice_record_failed", error=str(exc))

    # --- handoff: agent messages are spoken -----------------------------------------------------

    def _listen_for_agent(self) -> None:
        if self._agent_listener is not None:
            return

        async def listen() -> None:
            async with self.engine.bus.subscribe(self.conversation_id) as queue:
                while True:
                    _, event = await queue.get()
                    if isinstance(event, AgentMessage):
                        await self.push_frame(TTSSpeakFrame(event.text))

        self._agent_listener = self.create_task(listen(), "agent_listener")

    # --- background tasks -----------------------------------------------------------------------

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        async def run() -> None:
            await coroutine

        task = self.create_task(run(), "bridge_turn")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _stop_background(self) -> None:
        for task in [*self._tasks, self._digit_timer, self._agent_listener]:
            if task is not None and task is not asyncio.current_task():
                await self.cancel_task(task, timeout=1.0)
        self._tasks.clear()
        self._digit_timer = self._agent_listener = None


def expected_answer(state: ConversationState, project: Project) -> Expectation | None:
    """What the active flow step collects: digits, a letter-and-digits code, yes/no, one of a slot's values,
    or anything (``OPEN``); ``None`` when no flow step is waiting for an answer."""
    collect = collecting_slot(state, project.flows)
    if collect is None:
        return None
    slot = project.domain.slots.get(collect)
    if slot is None:
        return Expectation()
    if slot.type == "bool":
        return Expectation(Expect.YES_NO)
    if slot.type == "categorical" and slot.values:
        return Expectation(Expect.CHOICE, tuple(slot.values))
    entities = {m.get("entity") for m in slot.mappings if m.get("type") == "from_entity"}
    forms = {ENTITY_EXPECTATIONS.get(str(e), Expectation()) for e in entities}
    if len(forms) == 1 and (form := forms.pop()).kind is not Expect.OPEN:
        return form
    if not entities and any(hint in collect.lower() for hint in DIGIT_SLOT_HINTS):
        return Expectation(Expect.DIGITS)
    return Expectation()
