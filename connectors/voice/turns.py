"""Turn-taking: when the caller's turn starts (barge-in) and ends (smart-turn), with shared models.

* Start: while the bot is silent, speech starts a turn at once. While the bot speaks, speech interrupts
  it when the caller has been talking for ``barge_in_min_secs`` (backchannels are shorter), or, for a
  shorter utterance, when its final transcript holds a command ("agent", "stop", "wait", "no"). Short
  words otherwise never cut the bot: offline STT hears "okay" as "how do" too often to trust the words
  of a short utterance, and partial transcripts from the live pass are noisier still. So "uh huh" lets
  the bot finish; "wait, no" or a longer sentence stops it.
* End (:class:`CallerTurnStopStrategy`): VAD reports pauses after 0.2 s. The turn ends at the first of:
  the final transcript is a whole answer (:class:`~connectors.voice.endpoint.TurnJudge`: the form the
  step asked for, or a request the classifier recognises); the smart-turn model (shipped in pipecat's
  wheel) hears a finished sentence; ``max_silence_secs`` of silence. So the bot neither answers half a
  sentence nor waits out the silence after a whole one.
* The turn's words reach the bridge as one :class:`CallerTurnFrame` (a system frame) when the turn
  ends. A transcript travelling as an ordinary frame could be dropped from the bridge's queue by the
  very interruption it caused (a barge-in decided on "agent"), losing what the caller said.

The smart-turn ONNX session is loaded once per process and shared by every call (it is stateless);
Silero's state is per call, its model is small.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.base_smart_turn import BaseSmartTurn, SmartTurnParams
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams, VADState
from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    Frame,
    InputAudioRawFrame,
    SystemFrame,
    TranscriptionFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_start import BaseUserTurnStartStrategy
from pipecat.turns.user_stop import BaseUserTurnStopStrategy
from pipecat.turns.user_turn_controller import UserTurnController
from pipecat.turns.user_turn_processor import UserTurnProcessor
from pipecat.turns.user_turn_strategies import UserTurnStrategies

from bot.infra.logs import get_logger
from bot.kernel.messages import Button
from connectors.voice.config import TurnConfig, VADConfig
from connectors.voice.cpu import CPU
from connectors.voice.endpoint import TurnJudge
from connectors.voice.lm import INTERRUPT_WORDS, words
from connectors.voice.speech import is_backchannel
from connectors.voice.stt import ExpectFrame

log = get_logger(__name__)

_SESSION_LOCK = threading.Lock()
#: smart-turn v3's model file, shipped in pipecat's wheel.
SMART_TURN_PACKAGE = "pipecat.audio.turn.smart_turn.data"
SMART_TURN_MODEL = "smart-turn-v3.2-cpu.onnx"
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

    def _predict_endpoint(self, audio_array: Any) -> dict[str, Any]:
        with CPU.measure("smart_turn"):
            return super()._predict_endpoint(audio_array)


def smart_turn_session() -> Any:
    """The process-wide smart-turn ONNX session (loaded on first use)."""
    global _SMART_TURN_SESSION
    with _SESSION_LOCK:
        if _SMART_TURN_SESSION is None:
            import onnxruntime as ort

            # One intra-op thread, no spinning: pipecat's own session takes a thread per core, which on a
            # shared box busy-waits on cores other calls need; the model runs off the turn's critical path.
            options = ort.SessionOptions()
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.inter_op_num_threads = 1
            options.intra_op_num_threads = 1
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            model = resources.files(SMART_TURN_PACKAGE).joinpath(SMART_TURN_MODEL)
            _SMART_TURN_SESSION = ort.InferenceSession(str(model), sess_options=options,
                                                       providers=["CPUExecutionProvider"])
        return _SMART_TURN_SESSION


class PrimedSileroVADAnalyzer(SileroVADAnalyzer):
    """Silero VAD that has heard a moment of line silence before the call's first audio.

    Cold, the model and the smoothed volume need ~0.1 s of audio before they can confirm speech: a caller
    who speaks in the stream's first instant (over the greeting, "agent") was never heard — the word
    reached STARTING and fell back to QUIET. Priming with silence costs nothing and starts every call warm.
    """

    prime_secs = 0.3

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._primed = False

    def _run_analyzer(self, buffer: bytes) -> VADState:
        with CPU.measure("vad"):
            if not self._primed:
                self._primed = True
                super()._run_analyzer(bytes(2 * int(self.sample_rate * self.prime_secs)))  # 16-bit zeros
            return super()._run_analyzer(buffer)


def vad_analyzer(config: VADConfig) -> SileroVADAnalyzer:
    """A Silero VAD for one call (primed with silence, see :class:`PrimedSileroVADAnalyzer`)."""
    return PrimedSileroVADAnalyzer(params=VADParams(confidence=config.confidence, start_secs=config.start_secs,
                                                    stop_secs=config.stop_secs, min_volume=config.min_volume))


@dataclass
class CallerTurnFrame(SystemFrame):
    """Everything the caller said in one finished turn (the last final transcript covers the whole turn)."""

    text: str = ""


class CallerTurnStopStrategy(BaseUserTurnStopStrategy):
    """Ends the caller's turn on a whole answer, a finished-sounding sentence, or enough silence.

    After a VAD stop, the turn ends as soon as a final transcript is in hand and one of: the judge finds
    the words a whole answer; the smart-turn model (when on) hears the sentence as finished; or
    ``max_silence_secs`` have passed since speech ended. Without smart-turn, every VAD stop ends the
    turn once its transcript is in. Speech resuming cancels whatever was decided.
    """

    def __init__(self, judge: TurnJudge, *, analyzer: BaseSmartTurn | None, max_silence_secs: float,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._judge = judge
        self._analyzer = analyzer
        self._max_silence = max_silence_secs
        self._text = ""
        self._speaking = False
        self._words_complete = False
        self._sound_complete = False
        self._silence_elapsed = False
        self._timer: asyncio.Task[None] | None = None
        self._analysis: asyncio.Task[None] | None = None

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        await super().setup(setup)
        if self._analyzer is not None:
            self._analyzer.set_sample_rate(setup.audio_in_sample_rate)

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._cancel_timer()
        if self._analyzer is not None:
            await self._analyzer.cleanup()

    async def handle_user_turn_started(self) -> None:
        await self._reset()

    async def handle_user_turn_stopped(self) -> None:
        await self._reset()
        if self._analyzer is not None:
            self._analyzer.clear()

    async def _reset(self) -> None:
        self._text = ""
        self._words_complete = self._sound_complete = self._silence_elapsed = False
        await self._cancel_timer()

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        await super().process_frame(frame)
        if isinstance(frame, InputAudioRawFrame) and self._analyzer is not None:
            if self._analyzer.append_audio(frame.audio, self._speaking) == EndOfTurnState.COMPLETE:
                self._sound_complete = True
                await self._maybe_stop()
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            self._speaking = True
            self._words_complete = self._sound_complete = self._silence_elapsed = False
            await self._cancel_timer()
            if self._analyzer is not None:
                self._analyzer.update_vad_start_secs(frame.start_secs)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self._speech_stopped(frame)
        elif isinstance(frame, TranscriptionFrame):
            self._text = frame.text
            # The judge may run the intent classifier (a few ms of CPU): off the event loop, like the engine's.
            self._words_complete = await asyncio.to_thread(self._judge.complete, frame.text)
            await self._maybe_stop()
        return ProcessFrameResult.CONTINUE

    async def _speech_stopped(self, frame: VADUserStoppedSpeakingFrame) -> None:
        self._speaking = False
        await self._cancel_timer()
        wait = max(0.0, self._max_silence - frame.stop_secs)
        self._timer = self.task_manager.create_task(self._silence(wait), f"{self}::silence")
        if self._analyzer is None:
            self._sound_complete = True
            await self._maybe_stop()
        else:  # off the frame path: a whole answer's transcript must not wait for the model's verdict
            self._analysis = self.task_manager.create_task(self._analyze(), f"{self}::smart_turn")

    async def _analyze(self) -> None:
        assert self._analyzer is not None
        state, _ = await self._analyzer.analyze_end_of_turn()
        self._analysis = None
        if state == EndOfTurnState.COMPLETE and not self._speaking:
            self._sound_complete = True
            await self._maybe_stop()

    async def _silence(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._timer = None
        self._silence_elapsed = True
        await self._maybe_stop()

    async def _maybe_stop(self) -> None:
        if self._speaking or not self._text.strip():
            return
        if self._words_complete or self._sound_complete or self._silence_elapsed:
            reason = "words" if self._words_complete else "smart_turn" if self._sound_complete else "silence"
            log.debug("voice_turn_end", reason=reason, text=self._text)
            await self._cancel_timer()
            await self.trigger_user_turn_stopped()

    async def _cancel_timer(self) -> None:
        for task in (self._timer, self._analysis):
            if task is not None and task is not asyncio.current_task():
                await self.task_manager.cancel_task(task)
        self._timer = self._analysis = None


class CallerTurnProcessor(UserTurnProcessor):
    """pipecat's user-turn processor that also hands the bridge the turn's words as a :class:`CallerTurnFrame`.

    It keeps the judge informed of what the bot asked (the bridge's :class:`ExpectFrame` passes through
    on its way upstream to the recognizer).
    """

    def __init__(self, *, judge: TurnJudge, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._judge = judge
        self._in_turn = False
        self._turn_text = ""
        self._arriving: str | None = None  # the transcript being processed (it may start the turn itself)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, ExpectFrame):
            self._judge.expectation = frame.expectation
            self._judge.buttons = tuple(Button(title, title) for title in frame.expectation.choices)
        if isinstance(frame, TranscriptionFrame) and direction is FrameDirection.DOWNSTREAM:
            if self._in_turn:
                self._turn_text = frame.text  # each final transcript covers the whole turn so far
            self._arriving = frame.text
            try:
                await super().process_frame(frame, direction)
            finally:
                self._arriving = None
            return
        await super().process_frame(frame, direction)

    async def _on_user_turn_started(self, controller: UserTurnController, strategy: BaseUserTurnStartStrategy,
                                    params: Any) -> None:
        self._in_turn = True
        self._turn_text = self._arriving or ""  # a barge-in decided on this very transcript
        await super()._on_user_turn_started(controller, strategy, params)

    async def _on_user_turn_stopped(self, controller: UserTurnController, strategy: BaseUserTurnStopStrategy,
                                    params: Any) -> None:
        self._in_turn = False
        text, self._turn_text = self._turn_text.strip(), ""
        await super()._on_user_turn_stopped(controller, strategy, params)
        if text:
            await self.push_frame(CallerTurnFrame(text=text))


def turn_strategies(config: TurnConfig, judge: TurnJudge) -> UserTurnStrategies:
    """Barge-in aware start; whole-answer / smart-turn / silence stop."""
    analyzer = SharedSmartTurnAnalyzer(params=SmartTurnParams(stop_secs=config.max_silence_secs)) \
        if config.smart_turn else None
    stop = CallerTurnStopStrategy(judge, analyzer=analyzer, max_silence_secs=config.max_silence_secs)
    return UserTurnStrategies(start=[BargeInStartStrategy(config)], stop=[stop])
