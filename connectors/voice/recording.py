"""Call recordings (``voice.record: true``): both sides of a call as one stereo WAV, stored per call.

The caller is the left channel, the bot the right, 8 kHz 16-bit. Each side is placed on the call's clock as
its audio passes the transport (the caller's frames arrive in real time; the bot's are written paced), so
the two line up the way the call sounded. Recordings live in ``voice_recordings`` and are aged by
``retention.voice_audio`` (:mod:`bot.customers.retention`), exported and erased with the customer's
conversations (:mod:`bot.customers.requests`). Nothing is recorded unless the project turns it on.
"""

from __future__ import annotations

import io
import time
import uuid
import wave
from collections.abc import Callable
from typing import Any

import numpy as np

from bot.customers.registry import DataTable, register
from bot.infra.logs import get_logger
from bot.storage import Database

log = get_logger(__name__)

RATE = 8000
"""Samples per second of a recording (the phone line's)."""

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS voice_recordings (
        id TEXT PRIMARY KEY,
        conversation_id TEXT NOT NULL,
        call_sid TEXT,
        created_at {float} NOT NULL,
        seconds {float} NOT NULL,
        audio {blob} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS voice_recordings_conversation ON voice_recordings (conversation_id)",
)

register(DataTable("voice_recordings", "conversation", "conversation_id", "delete",
                   "call audio, both sides (only with voice.record: true)", retention="voice_audio",
                   time_column="created_at", owner="connectors.voice"))


class Track:
    """One side of the call as 16-bit samples at :data:`RATE`, placed on the call's clock."""

    def __init__(self) -> None:
        self.chunks: list[np.ndarray] = []
        self.length = 0

    def add(self, pcm: bytes, sample_rate: int, at: float) -> None:
        """Append ``pcm`` (16-bit mono at ``sample_rate``) starting ``at`` seconds into the call (silence fills
        a gap; audio that overlaps what is already there follows it)."""
        incoming = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype=np.int16)
        if sample_rate != RATE and sample_rate % RATE == 0:  # 16 kHz → 8 kHz: the mean of each pair
            step = sample_rate // RATE
            usable = len(incoming) // step * step
            incoming = incoming[:usable].reshape(-1, step).mean(axis=1).astype(np.int16)
        gap = int(at * RATE) - self.length
        if gap > 0:
            self.chunks.append(np.zeros(gap, dtype=np.int16))
            self.length += gap
        self.chunks.append(incoming)
        self.length += len(incoming)

    def samples(self, frames: int) -> np.ndarray:
        out = np.zeros(frames, dtype=np.int16)
        if self.chunks:
            joined = np.concatenate(self.chunks)
            out[: len(joined)] = joined
        return out


class CallRecorder:
    """Collects both sides of one call; :meth:`wav` interleaves them into a stereo WAV."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.caller = Track()
        self.bot = Track()

    def heard(self, pcm: bytes, sample_rate: int) -> None:
        self.caller.add(pcm, sample_rate, self.clock() - self.started)

    def said(self, pcm: bytes, sample_rate: int) -> None:
        self.bot.add(pcm, sample_rate, self.clock() - self.started)

    @property
    def seconds(self) -> float:
        return max(self.caller.length, self.bot.length) / RATE

    def wav(self) -> bytes:
        frames = max(self.caller.length, self.bot.length)
        stereo = np.stack([self.caller.samples(frames), self.bot.samples(frames)], axis=1)
        out = io.BytesIO()
        with wave.open(out, "wb") as file:
            file.setnchannels(2)
            file.setsampwidth(2)
            file.setframerate(RATE)
            file.writeframes(stereo.astype("<i2").tobytes())
        return out.getvalue()


class RecordingStore:
    """The ``voice_recordings`` table."""

    def __init__(self, db: Database, *, wall_clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.wall_clock = wall_clock

    async def setup(self) -> None:
        await self.db.migrate(SCHEMA)

    async def save(self, conversation_id: str, call_sid: str | None, recorder: CallRecorder) -> str:
        recording_id = uuid.uuid4().hex
        await self.db.execute("INSERT INTO voice_recordings (id, conversation_id, call_sid, created_at, seconds, "
                              "audio) VALUES (?, ?, ?, ?, ?, ?)", recording_id, conversation_id, call_sid,
                              self.wall_clock(), round(recorder.seconds, 2), recorder.wav())
        log.info("voice_call_recorded", conversation_id=conversation_id, seconds=round(recorder.seconds, 1))
        return recording_id

    async def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        return await self.db.fetch("SELECT id, call_sid, created_at, seconds, audio FROM voice_recordings "
                                   "WHERE conversation_id = ? ORDER BY created_at", conversation_id)



async def save_recording(db: Database, conversation_id: str, call_sid: str | None, recorder: CallRecorder) -> str:
    """Store ``recorder``'s call (creating the table if this database has none yet: once per call, idempotent)."""
    store = RecordingStore(db)
    await store.setup()
    return await store.save(conversation_id, call_sid, recorder)
