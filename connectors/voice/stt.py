"""Offline speech recognition with pocketsphinx, decoding while the caller speaks.

Audio is fed to the decoder as it arrives (in ~100 ms batches, off the event loop) and partial
hypotheses go out as ``InterimTranscriptionFrame`` (the barge-in strategy uses them). When VAD reports
the end of speech, the turn's audio is decoded once more as a whole utterance — a few tens of
milliseconds for a short answer — and that is the ``TranscriptionFrame(finalized=True)``: whole-utterance
normalization hears 8 kHz phone audio far better than the live pass.

The bridge tells the recognizer what answer it expects with an :class:`ExpectFrame` sent upstream; a
closed expectation switches the decoder to a small grammar for the next utterance.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    ControlFrame,
    Frame,
    InputAudioRawFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.utils.time import time_now_iso8601

from bot.logs import get_logger
from connectors.voice.errors import SpeechError
from connectors.voice.lm import Expectation, SpeechModel, grammar

log = get_logger(__name__)

SAMPLE_RATE = 16000
BATCH_BYTES = SAMPLE_RATE * 2 // 10  # 100 ms of 16-bit audio
PRE_ROLL_SECS = 0.5  # audio kept from before VAD confirmed speech (it needs start_secs to decide)
MAX_UTTERANCE_SECS = 30.0


@dataclass
class ExpectFrame(ControlFrame):
    """Sent upstream by the bridge: the answer the bot now waits for (selects a grammar)."""

    expectation: Expectation = field(default_factory=Expectation)


@dataclass(slots=True)
class RecognitionStats:
    """Per-call counters for benchmarks: seconds of audio decoded and seconds spent decoding."""

    audio_secs: float = 0.0
    cpu_secs: float = 0.0
    utterances: int = 0
    last_final_ms: float = 0.0


class PocketsphinxSTT(FrameProcessor):
    """Streams caller audio (16 kHz) through a pocketsphinx decoder between VAD start and stop.

    A caller's turn can span several VAD segments (a pause that smart-turn judged mid-sentence). The
    first segment is decoded while it is spoken; when the caller goes on in the same turn, the whole
    turn's audio is decoded again at the next stop, so each final transcript covers the turn so far and a
    grammar ("a letter and four digits") sees the complete answer.
    """

    def __init__(self, model: SpeechModel | None, *, use_grammars: bool = True, user_id: str = "caller",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._use_grammars = use_grammars and model is not None
        self._user_id = user_id
        self._decoder: Any = None
        self._default_search = "_default"
        self._pre_roll: deque[bytes] = deque()
        self._pre_roll_bytes = 0
        self._pending = bytearray()
        self._turn_audio = bytearray()
        self._streaming = False  # decoding the turn's first segment as it arrives
        self._recording = False  # between the turn's first speech and its end
        self._in_speech = False
        self._user_turn = False
        self._expectation = Expectation()
        self._search = ""
        self._last_interim = ""
        self._decoding = asyncio.Lock()  # one pocketsphinx call at a time: the decoder is not thread-safe
        self.stats = RecognitionStats()

    async def _run(self, function: Any, *args: Any) -> Any:
        async with self._decoding:
            return await asyncio.to_thread(function, *args)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, ExpectFrame):
            self._expectation = frame.expectation
            return
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._decoder = await asyncio.to_thread(self._new_decoder)
            return
        if isinstance(frame, InputAudioRawFrame):
            await self._audio(frame.audio)
        elif isinstance(frame, VADUserStartedSpeakingFrame):
            await self._speech_started()
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            await self.push_frame(frame, direction)
            await self._speech_stopped()
            return
        elif isinstance(frame, UserStartedSpeakingFrame):
            self._user_turn = True
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_turn = False
            if not self._in_speech:
                self._end_recording()
        await self.push_frame(frame, direction)

    def _new_decoder(self) -> Any:
        from pocketsphinx import Decoder

        try:
            if self._model is None:
                decoder = Decoder(loglevel="FATAL")
            else:
                decoder = Decoder(lm=str(self._model.arpa), dict=str(self._model.dictionary), loglevel="FATAL")
        except RuntimeError as exc:
            raise SpeechError(f"pocketsphinx could not start: {exc}", provider="pocketsphinx",
                              permanent=True) from exc
        self._default_search = self._search = decoder.current_search()
        return decoder

    def _end_recording(self) -> None:
        self._recording = self._streaming = False
        self._turn_audio = bytearray()
        self._pending = bytearray()

    async def _audio(self, audio: bytes) -> None:
        if not self._recording:
            self._pre_roll.append(audio)
            self._pre_roll_bytes += len(audio)
            while self._pre_roll_bytes > PRE_ROLL_SECS * SAMPLE_RATE * 2 and len(self._pre_roll) > 1:
                self._pre_roll_bytes -= len(self._pre_roll.popleft())
            return
        if len(self._turn_audio) > MAX_UTTERANCE_SECS * SAMPLE_RATE * 2:
            return
        self._turn_audio.extend(audio)
        if not self._streaming:
            return
        self._pending.extend(audio)
        if len(self._pending) >= BATCH_BYTES and not self._decoding.locked():
            chunk, self._pending = bytes(self._pending), bytearray()
            hypothesis = await self._run(self._feed, chunk, False)
            if hypothesis and hypothesis != self._last_interim:
                self._last_interim = hypothesis
                await self.push_frame(InterimTranscriptionFrame(hypothesis, self._user_id, time_now_iso8601()))

    async def _speech_started(self) -> None:
        if self._decoder is None or self._in_speech:
            return
        self._in_speech = True
        if self._recording and self._user_turn:
            return  # the caller goes on within the same turn: the whole turn is decoded at the next stop
        self._recording = self._streaming = True
        self._last_interim = ""
        self._turn_audio = bytearray(b"".join(self._pre_roll))
        self._pending = bytearray(self._turn_audio)
        self._pre_roll.clear()
        self._pre_roll_bytes = 0
        await self._run(self._start_utterance)

    async def _speech_stopped(self) -> None:
        if not self._in_speech:
            return
        self._in_speech = False
        started = time.perf_counter()
        if self._streaming:  # close the live utterance; its hypothesis only served as interim text
            self._streaming, self._pending = False, bytearray()
            await self._run(self._feed, b"", True)
        text = await self._run(self._decode_turn, bytes(self._turn_audio))
        self.stats.last_final_ms = (time.perf_counter() - started) * 1000
        self.stats.utterances += 1
        log.debug("voice_transcript", text=text, search=self._search, ms=round(self.stats.last_final_ms, 1))
        if not self._user_turn and not self._recording:
            self._end_recording()
        if text:
            await self.push_frame(TranscriptionFrame(text, self._user_id, time_now_iso8601(), finalized=True))

    def _start_utterance(self) -> None:
        wanted = self._default_search
        jsgf = grammar(self._expectation, self._model.vocabulary) if self._use_grammars and self._model else None
        if jsgf is not None:
            wanted = f"expect_{self._expectation.kind}_{abs(hash(jsgf)) % 10**8}"
            if self._decoder.get_fsg(wanted) is None:
                self._decoder.add_jsgf_string(wanted, jsgf)
        if wanted != self._search:
            self._decoder.activate_search(wanted)
            self._search = wanted
        self._decoder.start_utt()

    def _decode_turn(self, audio: bytes) -> str:
        """Decode the turn's whole recording as one utterance (in a worker thread).

        Whole-utterance decoding normalizes the cepstra over the utterance (batch CMN), which recognizes
        telephone audio much better than the live normalization the streaming pass uses.
        """
        started = time.thread_time()
        self._start_utterance()
        self._decoder.process_raw(audio, False, True)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        self.stats.audio_secs += len(audio) / (SAMPLE_RATE * 2)
        self.stats.cpu_secs += time.thread_time() - started
        return hyp.hypstr.strip() if hyp is not None else ""

    def _feed(self, chunk: bytes, final: bool) -> str:
        """Decode ``chunk`` (in a worker thread); returns the current (or, if ``final``, the last) hypothesis."""
        started = time.thread_time()
        if chunk:
            self._decoder.process_raw(chunk, False, False)
            self.stats.audio_secs += len(chunk) / (SAMPLE_RATE * 2)
        if final:
            self._decoder.end_utt()
        hyp = self._decoder.hyp()
        self.stats.cpu_secs += time.thread_time() - started
        return hyp.hypstr.strip() if hyp is not None else ""
