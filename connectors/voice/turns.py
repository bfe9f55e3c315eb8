"""Turn-taking: when the caller's turn starts (barge-in) and ends (smart-turn), with shared models.

* Start: while the bot is silent, speech starts a turn at once. While the bot speaks, speech interrupts
  it when the caller has been talking for ``barge_in_min_secs`` (backchannels are shorter), or, for a
  shorter utterance, when its final transcript holds a command ("agent", "stop", "wait", "no"). Short
  words otherwise never cut the bot: offline STT hears "okay" as "how do" too often to trust the words
  of a short utterance, and partial transcripts from the live pass are noisier still. So "uh huh" lets
  the bot finish; "wait, no" or a longer sentence stops it.
* End: VAD reports pauses after 0.2 s; the smart-turn model (shipped in pipecat's wheel) decides whether
  the pause ends the turn, so the bot does not answer half a sentence.

The smart-turn ONNX session is loaded once per process and shared by every call (it is stateless);
Silero's state is per call, its model is small.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import BaseUserTurnStartStrategy
from pipecat.turns.user_stop import BaseUserTurnStopStrategy, TurnAnalyzerUserTurnStopStrategy
from pipecat.turns.user_stop.speech_timeout_user_turn_stop_strategy import SpeechTimeoutUserTurnStopStrategy
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from connectors.voice.config import TurnConfig, VADConfig
from connectors.voice.lm import ESCAPE_WORDS, words
from connectors.voice.speech import is_backchannel

#: Words that cut the bot short even in a short utterance.
INTERRUPT_WORDS = frozenset(ESCAPE_WORDS) | {"no", "wait", "hold"}

_SESSION_LOCK = threading.Lock()
_SMART_TURN_SESSION: Any = None


class BargeInStartStrategy(BaseUserTurnStartStrategy):
    """Starts the caller's turn on speech, but lets backchannels pass while the bot is speaking."""

    def __init__(self, config: TurnConfig, **kwargs: Any) -> None:
        super().__init__(enable_interruptions=config.barge_in, **kwargs)
        self._config = config
        self._bot_speaking = False
        self._speech_started_at: float | None = None
        self._watch: asyncio.Task[None] | None = None

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speech_started_at = time.monotonic()
            if not self._bot_speaking:
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
            if self._config.barge_in:
                self._watch = self.task_manager.create_task(self._interrupt_if_long(), f"{self}::barge_in")
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._speech_started_at = None
            await self._stop_watch()
        elif isinstance(frame, TranscriptionFrame) and self._speech_started_at is None and (
                not self._bot_speaking or (self._config.barge_in and self._interrupts(frame))):
                await self._stop_watch()
                await self.trigger_user_turn_started()
                return ProcessFrameResult.STOP
        return ProcessFrameResult.CONTINUE

    def _interrupts(self, frame: TranscriptionFrame) -> bool:
        """A short utterance over the bot interrupts only when it is a command ("agent", "stop", "wait")."""
        if is_backchannel(frame.text, self._config.backchannels):
            return False
        return any(word in INTERRUPT_WORDS for word in words(frame.text))

    async def handle_user_turn_started(self) -> None:
        await self._stop_watch()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._stop_watch()

    async def _interrupt_if_long(self) -> None:
        await asyncio.sleep(self._config.barge_in_min_secs)
        self._watch = None
        if self._speech_started_at is not None:
            await self.trigger_user_turn_started()

    async def _stop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None and watch is not asyncio.current_task():
            await self.task_manager.cancel_task(watch)


class SharedSmartTurnAnalyzer(LocalSmartTurnAnalyzerV3):
    """smart-turn v3 with the ONNX session shared by all calls of the process."""

    def __init__(self, **kwargs: Any) -> None:
        BaseSmartTurn.__init__(self, **kwargs)
        self._log_data = False
        self._session = smart_turn_session()


def smart_turn_session() -> Any:
    """The process-wide smart-turn ONNX session (loaded on first use)."""
    global _SMART_TURN_SESSION
    with _SESSION_LOCK:
        if _SMART_TURN_SESSION is None:
            import onnxruntime as ort

            probe = LocalSmartTurnAnalyzerV3.__new__(LocalSmartTurnAnalyzerV3)
            LocalSmartTurnAnalyzerV3.__init__(probe)
            _SMART_TURN_SESSION = probe._session
            assert isinstance(_SMART_TURN_SESSION, ort.InferenceSession)
        return _SMART_TURN_SESSION


def vad_analyzer(config: VADConfig) -> SileroVADAnalyzer:
    """A Silero VAD for one call."""
    return SileroVADAnalyzer(params=VADParams(confidence=config.confidence, start_secs=config.start_secs,
                                              stop_secs=config.stop_secs, min_volume=config.min_volume))


def turn_strategies(config: TurnConfig) -> UserTurnStrategies:
    """Barge-in aware start; smart-turn (or plain VAD silence) stop."""
    stop: BaseUserTurnStopStrategy
    if config.smart_turn:
        analyzer = SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=config.max_silence_secs))
        stop = TurnAnalyzerUserTurnStopStrategy(turn_analyzer=analyzer)
    else:
        stop = SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=0.05)
    return UserTurnStrategies(start=[BargeInStartStrategy(config)], stop=[stop])
