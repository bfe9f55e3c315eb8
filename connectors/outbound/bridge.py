"""The bridge of a call the bot placed: the same pipeline as an incoming call, with a keypad dialogue
(:class:`bot.outbound.CallScript`) in place of the flows until the callee asks for a person.

When the call is answered it first listens (``outbound.listen_first_secs``): a callee who starts talking is
heard out, and a first turn that sounds like a recorded greeting (:func:`bot.outbound.detect_voicemail_greeting`,
our own check after Twilio's ``AnsweredBy``) gets the short voicemail instead of the dialogue. Otherwise it
says the opening (which names only the organisation until the callee verifies), gathers keys (the PIN or date
of birth up to ``#``; single keys for the choices) and speaks each :class:`~bot.outbound.Step`. ``0`` hands
the call to a person through the engine, as on an incoming call; a step that ends the call hangs up once
its words were played.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from pipecat.frames.frames import (
    EndWorkerFrame,
    Frame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection

from bot.infra.logs import get_logger
from bot.kernel.messages import BotMessage, Button
from bot.outbound import CallScript, OutboundService, Step, detect_voicemail_greeting
from bot.outbound.script import Phase
from connectors.voice.bridge import EngineBridge

log = get_logger(__name__)

PREFIX = "outbound-"
#: After speech started in the listening window, the longest the callee is heard out.
HEAR_OUT_SECS = 15.0
#: The callee has finished the first thing they said after this long without speech.
PAUSE_SECS = 1.5
#: The keys that answer a choice at once (the bridge treats them as buttons).
_CHOICE_KEYS = tuple(Button(str(n), str(n)) for n in range(1, 10))


def conversation_id(attempt_id: str) -> str:
    return f"{PREFIX}{attempt_id}"


class OutboundBridge(EngineBridge):
    """An :class:`EngineBridge` whose caller side runs an outbound attempt's :class:`CallScript`."""

    def __init__(self, *args: Any, service: OutboundService, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        self.attempt_id = self.conversation_id.removeprefix(PREFIX)
        self.script: CallScript | None = None
        self._first_words: list[str] = []
        self._talking = False
        self._heard = asyncio.Event()
        self._speech_started: float | None = None
        self._speech_stopped: float | None = None
        self._opened = False
        self._ending = False
        self._handed_off = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, (UserStartedSpeakingFrame, VADUserStartedSpeakingFrame)):
            self._talking = True
            self._speech_started = self._speech_started or time.monotonic()
            self._heard.set()
        elif isinstance(frame, (UserStoppedSpeakingFrame, VADUserStoppedSpeakingFrame)):
            self._talking = False
            self._speech_stopped = time.monotonic()
        await super().process_frame(frame, direction)

    # --- answering: voicemail or the opening -------------------------------------------------

    async def _greet(self) -> None:
        self.script = await self.service.script(self.attempt_id)
        if self.script is None:
            log.warning("outbound_call_unknown_attempt", attempt_id=self.attempt_id)
            await self._end_after([BotMessage("Sorry, wrong number. Goodbye.")])
            return
        await self._hear_out()
        heard = " ".join(self._first_words)
        speech_secs = None
        if self._speech_started is not None:
            speech_secs = (self._speech_stopped or time.monotonic()) - self._speech_started
        if heard or speech_secs:
            log.info("outbound_greeting_checked", attempt_id=self.attempt_id, words=len(heard.split()),
                     speech_secs=round(speech_secs or 0, 2))
        if (heard or speech_secs) and detect_voicemail_greeting(heard, speech_secs=speech_secs):
            log.info("outbound_voicemail_detected", attempt_id=self.attempt_id, by="greeting_check",
                     speech_secs=round(speech_secs or 0, 2))
            self._ending = True  # late words of the greeting change nothing now
            self._opened = True
            await self._play(self.script.voicemail())
            return
        self._opened = True
        await self._play(self.script.opening())

    async def _hear_out(self) -> None:
        """Listen ``listen_first_secs``; if the callee started talking, until they pause (at most
        :data:`HEAR_OUT_SECS`): a person says "Hello?", a recording goes on."""
        started = time.monotonic()
        listen = self.service.config.listen_first_secs
        try:
            await asyncio.wait_for(self._heard.wait(), timeout=listen)
        except TimeoutError:
            return
        while time.monotonic() - started < HEAR_OUT_SECS:
            quiet_since = self._speech_stopped if not self._talking else None
            if quiet_since is not None and time.monotonic() - quiet_since >= PAUSE_SECS:
                return
            await asyncio.sleep(0.05)

    async def _caller_said(self, said: str) -> None:
        if not self._opened:
            self._first_words.append(said)
            return
        if self._handed_off:
            await super()._caller_said(said)  # a person (or the engine's queue) has the call now
            return
        if self.script is not None and self.script.phase is not Phase.DONE and not self._ending:
            await self._play(await self.script.said(said))

    # --- keys ------------------------------------------------------------------------------

    async def _submit_digits(self, digits: str, payload: str | None = None) -> None:
        if self.script is None or not self._opened or self.script.phase is Phase.DONE:
            if self._handed_off:
                await super()._submit_digits(digits, payload)  # after a handoff the engine has the call
            return

        async def step() -> None:
            assert self.script is not None
            await self._play(await self.script.keys(payload or digits))

        self._spawn(step())

    async def _play(self, step: Step) -> None:
        """Speak ``step``, record its outcome, hand off or hang up as it says."""
        if step.outcome is not None:
            await self.service.report(self.attempt_id, step.outcome)
        if step.handoff:
            self._handed_off = True
            self._buttons, self._collecting = (), False
            await self._say([BotMessage(step.say)], record=True)
            await self._turn("0", {"source": "dtmf", "dtmf": "0", "outbound_attempt": self.attempt_id})
            return
        if step.end:
            await self._end_after([BotMessage(step.say)])
            return
        async with self._lock:
            await self._say([BotMessage(step.say)], record=True)
            phase = self.script.phase if self.script else Phase.DONE
            self._collecting = phase is Phase.VERIFY
            self._buttons = _CHOICE_KEYS if phase in (Phase.OFFER, Phase.PICK_SLOT, Phase.CONFIRM_CANCEL) else ()

    async def _end_after(self, messages: list[BotMessage]) -> None:
        """Say ``messages``, wait until they were played, then end the call."""
        self._ending = True
        self._buttons, self._collecting = (), False
        await self._say(messages, record=True)
        deadline = time.monotonic() + 60
        started = False
        while time.monotonic() < deadline:
            started = started or self._bot_speaking
            if started and not self._bot_speaking:
                break
            await asyncio.sleep(0.05)
        await self.push_frame(EndWorkerFrame(), FrameDirection.UPSTREAM)
