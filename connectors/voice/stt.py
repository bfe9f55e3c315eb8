"""Offline speech recognition with pocketsphinx, decoding while the caller speaks.

Audio is fed to the decoder as it arrives (in ~100 ms batches, off the event loop) and partial
hypotheses go out as ``InterimTranscriptionFrame`` (the barge-in strategy uses them). When VAD reports
the end of speech only the last batch is left to decode, and the live hypothesis is the
``TranscriptionFrame(finalized=True)``: a few milliseconds after the stop, where decoding the whole
utterance again cost ~70 ms per second of audio on the critical path. Live normalization starts from the
phone line's cepstral mean (:mod:`connectors.voice.channel`), so it hears even a call's first utterance
well (measured on synthetic calls: WER 21 % live from the line's mean, 33 % re-decoding whole utterances,
74 % live from the model's default mean).

The bridge tells the recognizer what answer it expects with an :class:`ExpectFrame` sent upstream; a
closed expectation switches the decoder to a small grammar for the next utterance. A short utterance
over the bot's own speech is decoded with the barge-in grammar (:func:`~connectors.voice.lm.barge_in_grammar`):
there the only question is "a command or a backchannel?", and a lone word is what an open model hears worst.

Each kind of turn can go to another recognizer (``voice.stt.open_answers`` / ``grammar_answers``): with
``open_recognizer`` set, a finished turn that no closed grammar decoded (an open question, or long speech over
the bot that became a turn) is transcribed from its audio by it — faster-whisper by default
(:mod:`connectors.voice.whisper_stt`); with ``grammar_recognizer`` set, closed answers are too.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
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

from bot.infra.logs import get_logger
from connectors.voice.cpu import CPU
from connectors.voice.errors import SpeechError
from connectors.voice.lm import Expectation, SpeechModel, barge_in_grammar, grammar

log = get_logger(__name__)

SAMPLE_RATE = 16000
BATCH_BYTES = SAMPLE_RATE * 2 // 10  # 100 ms of 16-bit audio
PRE_ROLL_SECS = 1.0  # audio kept from before VAD confirmed speech: it needs start_secs of confident speech,
#                     which a soft onset reaches late (seen: 0.3 s into a 0.57 s "agent")
MAX_UTTERANCE_SECS = 30.0


SPEECH_LEVEL = 300  # mean |sample| of a 20 ms window that counts as speech
LEAD_SECS = 0.3  # silence kept before the first speech when the leading silence is trimmed


def trim_leading_silence(audio: bytes) -> bytes:
    """``audio`` (16-bit, 16 kHz) from :data:`LEAD_SECS` before its first speech window."""
    import numpy as np

    samples = np.frombuffer(audio, dtype=np.int16)
    window = SAMPLE_RATE // 50
    usable = len(samples) // window * window
    if usable == 0:
        return audio
    levels = np.abs(samples[:usable].astype(np.int32)).reshape(-1, window).mean(axis=1)
    loud = np.flatnonzero(levels > SPEECH_LEVEL)
    if loud.size == 0:
        return audio
    start = max(0, int(loud[0]) * window - int(LEAD_SECS * SAMPLE_RATE))
    return audio[start * 2:]


#: Whole-turn recognition: 16-bit 16 kHz audio → text (blocking: it runs in a worker thread).
Recognizer = Callable[[bytes], str]


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
                 backchannels: Sequence[str] = (), open_recognizer: Recognizer | None = None,
                 grammar_recognizer: Recognizer | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._model = model
        self._open_recognizer = open_recognizer
        self._grammar_recognizer = grammar_recognizer
        self._use_grammars = use_grammars and model is not None
        self._barge_grammar = barge_in_grammar(backchannels, model.vocabulary) \
            if self._use_grammars and model is not None else None
        self._bot_speaking = False
        self._over_bot = False  # the live pass listens with the barge-in grammar (speech began over the bot)
        self._whole_only = False  # this turn is heard only by the open recognizer: no live pocketsphinx pass
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
        if isinstance(frame, BotStartedSpeakingFrame):
            self._bot_speaking = True
        elif isinstance(frame, BotStoppedSpeakingFrame):
            self._bot_speaking = False
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
                line = {"cmninit": self._model.cmn_init} if self._model.cmn_init else {}
                decoder = Decoder(lm=str(self._model.arpa), dict=str(self._model.dictionary), loglevel="FATAL",
                                  **line)
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
        self._pre_roll.append(audio)  # always the last PRE_ROLL_SECS, whatever else is going on
        self._pre_roll_bytes += len(audio)
        while self._pre_roll_bytes > PRE_ROLL_SECS * SAMPLE_RATE * 2 and len(self._pre_roll) > 1:
            self._pre_roll_bytes -= len(self._pre_roll.popleft())
        if not self._recording:
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
        self._over_bot = self._bot_speaking and self._barge_grammar is not None
        self._last_interim = ""
        self._turn_audio = bytearray(b"".join(self._pre_roll))
        self._pending = bytearray(self._turn_audio)
        # The bot is silent and no closed grammar applies: the open recognizer hears the whole turn anyway, and
        # nothing reads partial words while the bot is silent — so pocketsphinx's live pass is skipped (CPU).
        self._whole_only = self._open_recognizer is not None and not self._bot_speaking and not self._closed_next()
        if self._whole_only:
            self._streaming = False
            return
        await self._run(self._start_utterance, self._over_bot)

    def _closed_next(self) -> bool:
        """Whether the next utterance would be decoded with a closed grammar (what the bot now expects)."""
        return self._use_grammars and self._model is not None and \
            grammar(self._expectation, self._model.vocabulary) is not None

    async def _speech_stopped(self) -> None:
        if not self._in_speech:
            return
        self._in_speech = False
        started = time.perf_counter()
        text = ""
        if self._whole_only and self._open_recognizer is not None:
            text = await self._run(self._open_recognizer, bytes(self._turn_audio))
            await self._final(text, started)
            return
        if self._streaming:  # the live pass heard the whole utterance: only its last chunk is left to decode
            self._streaming = False
            rest, self._pending = bytes(self._pending), bytearray()
            text = await self._run(self._feed, rest, True)
            if self._over_bot and self._user_turn:  # long speech over the bot became a turn: hear it openly
                text = await self._run(self._decode_turn, bytes(self._turn_audio))
            elif self._search != self._default_search and not self._over_bot:
                # A closed grammar: the live pass may end off the grammar's final state ("a one oh one" for
                # "A one oh oh one"); the whole answer decoded at once always completes a path, and a small
                # grammar decodes in a few tens of milliseconds.
                text = await self._run(self._decode_turn, bytes(self._turn_audio))
        else:  # the turn went on after a pause: decode all of it, so a grammar sees the whole answer
            text = await self._run(self._decode_turn, bytes(self._turn_audio))
        closed = self._search != self._default_search and not (self._over_bot and not self._user_turn)
        whole_turn = None if self._over_bot and not self._user_turn else \
            (self._grammar_recognizer if closed else self._open_recognizer)
        if whole_turn is not None:  # this kind of turn is heard by another recognizer, from its whole audio
            text = await self._run(whole_turn, bytes(self._turn_audio))
        await self._final(text, started)

    async def _final(self, text: str, started: float) -> None:
        self.stats.last_final_ms = (time.perf_counter() - started) * 1000
        self.stats.utterances += 1
        log.debug("voice_transcript", text=text, search=self._search, ms=round(self.stats.last_final_ms, 1),
                  over_bot=self._over_bot, in_turn=self._user_turn, audio_secs=len(self._turn_audio) / SAMPLE_RATE / 2)
        if text:
            await self.push_frame(TranscriptionFrame(text, self._user_id, time_now_iso8601(), finalized=True))

    def _start_utterance(self, over_bot: bool = False, *, whole_if_closed: bool = False) -> bool:
        """Activate the search for the next utterance and start it; ``True`` when it is a closed grammar.

        With ``whole_if_closed`` a closed grammar starts from fresh feature state: after a live pass the
        decoder's carried-over feature state made the whole-utterance decode drop a digit ("a one oh one"
        for "A one oh oh one"), which a fresh decoder — or ``reinit_feat`` — hears right. That also puts the
        live passes that follow back on the phone line's mean, where every call starts anyway.
        """
        wanted = self._default_search
        if over_bot and self._barge_grammar is not None:
            jsgf: str | None = self._barge_grammar
            name = "barge_in"
        else:
            jsgf = grammar(self._expectation, self._model.vocabulary) if self._use_grammars and self._model else None
            name = f"expect_{self._expectation.kind}"
        if jsgf is not None:
            wanted = f"{name}_{abs(hash(jsgf)) % 10**8}"
            if self._decoder.get_fsg(wanted) is None:
                self._decoder.add_jsgf_string(wanted, jsgf)
        if wanted != self._search:
            self._decoder.activate_search(wanted)
            self._search = wanted
        closed = wanted != self._default_search and not over_bot
        if closed and whole_if_closed:
            self._decoder.reinit_feat()
        self._decoder.start_utt()
        return closed

    def _decode_turn(self, audio: bytes) -> str:
        """Decode a recording again as one utterance with what the bot expects (in a worker thread).

        With the open model it is fed as live audio (``full_utt=False``): normalized by the same running
        cepstral mean as the live pass, which starts from the phone line's mean and adapts through the
        call. With a closed grammar it is decoded whole (normalized over the utterance itself): fed as
        live audio, a grammar's search can end off its final state ("a one oh one" for "A one oh oh one")
        — whichever path led here (a turn over the bot, a turn that went on after a pause, or not).
        """
        started = time.thread_time()
        whole = self._start_utterance(whole_if_closed=True)
        if whole:  # utterance normalization: long leading silence would skew the utterance's mean
            audio = trim_leading_silence(audio)
        self._decoder.process_raw(audio, False, whole)
        self._decoder.end_utt()
        hyp = self._decoder.hyp()
        self.stats.audio_secs += len(audio) / (SAMPLE_RATE * 2)
        spent = time.thread_time() - started
        self.stats.cpu_secs += spent
        CPU.add("stt_pocketsphinx", spent)
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
        spent = time.thread_time() - started
        self.stats.cpu_secs += spent
        CPU.add("stt_pocketsphinx", spent)
        return hyp.hypstr.strip() if hyp is not None else ""
