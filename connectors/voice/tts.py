"""Offline speech synthesis with espeak-ng, streamed in chunks as the process writes them.

Each ``TTSSpeakFrame`` starts one ``espeak-ng --stdout`` process (text on stdin, so nothing in it is
read as an option); its 22.05 kHz WAV stream is resampled to the call's output rate and pushed in
~100 ms chunks. An interruption cancels the task reading it and the process is killed.
"""

from __future__ import annotations

import asyncio
import shutil
import struct
import time
from dataclasses import dataclass
from typing import Any

from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import Frame, TTSAudioRawFrame, TTSSpeakFrame, TTSStartedFrame, TTSStoppedFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.infra.logs import get_logger
from connectors.voice.config import TTSConfig
from connectors.voice.errors import SpeechError

log = get_logger(__name__)

WAV_HEADER_BYTES = 44
CHUNK_SECS = 0.1
MAX_TEXT_CHARS = 2000


@dataclass(slots=True)
class SynthesisStats:
    """Per-call counters for benchmarks."""

    audio_secs: float = 0.0
    wall_secs: float = 0.0
    first_chunk_ms: list[float] | None = None


def find_espeak(binary: str) -> str:
    """The espeak-ng executable's path; raises :class:`SpeechError` when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        raise SpeechError(f"{binary!r} is not on PATH (Debian: apt-get install espeak-ng)", provider="espeak-ng",
                          permanent=True)
    return path


class EspeakTTS(FrameProcessor):
    """Speaks ``TTSSpeakFrame`` text; passes every other frame on."""

    def __init__(self, config: TTSConfig, *, sample_rate: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._binary = find_espeak(config.binary)
        self._voice = config.voice
        self._wpm = config.words_per_minute
        self._out_rate = sample_rate
        self._resampler = create_stream_resampler()
        self.stats = SynthesisStats(first_chunk_ms=[])

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, TTSSpeakFrame):
            await self.speak(frame.text)
        else:
            await self.push_frame(frame, direction)

    async def speak(self, text: str) -> None:
        """Synthesize ``text`` and push its audio downstream as it is produced."""
        text = " ".join(text.split())[:MAX_TEXT_CHARS]
        if not text:
            return
        started = time.perf_counter()
        try:
            process = await asyncio.create_subprocess_exec(
                self._binary, "-v", self._voice, "-s", str(self._wpm), "--stdout",
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
        except OSError as exc:
            raise SpeechError(f"espeak-ng could not start: {exc}", provider="espeak-ng") from exc
        assert process.stdin is not None and process.stdout is not None
        await self.push_frame(TTSStartedFrame())
        produced = 0
        try:
            process.stdin.write(text.encode("utf-8"))
            await process.stdin.drain()
            process.stdin.close()
            header = await process.stdout.readexactly(WAV_HEADER_BYTES)
            in_rate = struct.unpack_from("<I", header, 24)[0]
            chunk_bytes = int(in_rate * CHUNK_SECS) * 2
            while True:
                raw = await process.stdout.read(chunk_bytes)
                if not raw:
                    break
                if len(raw) % 2:
                    raw += await process.stdout.read(1)
                audio = await self._resampler.resample(raw, in_rate, self._out_rate)
                if not audio:
                    continue
                if produced == 0 and self.stats.first_chunk_ms is not None:
                    self.stats.first_chunk_ms.append((time.perf_counter() - started) * 1000)
                produced += len(audio)
                await self.push_frame(TTSAudioRawFrame(audio=audio, sample_rate=self._out_rate, num_channels=1))
        except asyncio.IncompleteReadError as exc:
            raise SpeechError("espeak-ng produced no audio", provider="espeak-ng") from exc
        finally:
            if process.returncode is None:
                process.kill()
            await process.wait()
            self.stats.audio_secs += produced / (2 * self._out_rate)
            self.stats.wall_secs += time.perf_counter() - started
        await self.push_frame(TTSStoppedFrame())
