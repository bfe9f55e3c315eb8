"""Call recordings (``voice.record: true``, issue #23): both sides of a call in one stereo WAV per call, aged by
``retention.voice_audio``, exported and erased with the customer's conversations; nothing without the setting."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import io
import wave
from pathlib import Path
from typing import Any

import numpy as np

from bot.app.runtime import Runtime
from bot.customers.config import DAY, RetentionConfig
from bot.customers.requests import DataRequests
from bot.customers.retention import RetentionJob
from bot.infra.embeddings import Embedder
from bot.project import Project
from bot.storage import ConversationStore, open_database
from connectors.voice.caller import SimulatedCaller
from connectors.voice.recording import RATE, CallRecorder, RecordingStore

NOW = 1_800_000_000.0


def channels(wav: bytes) -> tuple[np.ndarray, np.ndarray]:
    with wave.open(io.BytesIO(wav)) as file:
        assert (file.getnchannels(), file.getsampwidth(), file.getframerate()) == (2, 2, RATE)
        samples = np.frombuffer(file.readframes(file.getnframes()), dtype="<i2").reshape(-1, 2)
    return samples[:, 0], samples[:, 1]


def tone(seconds: float, rate: int, level: int) -> bytes:
    return (np.full(int(seconds * rate), level, dtype="<i2")).tobytes()


def test_both_sides_are_placed_on_the_calls_clock() -> None:
    """The caller (16 kHz from the line's decoder) on the left from 0 s, the bot (8 kHz) on the right from
    0.5 s; silence where a side said nothing."""
    now = [100.0]
    recorder = CallRecorder(clock=lambda: now[0])
    recorder.heard(tone(0.2, 16000, 1000), 16000)
    now[0] = 100.5
    recorder.said(tone(0.3, RATE, -2000), RATE)
    left, right = channels(recorder.wav())
    assert len(left) == int(0.8 * RATE) and recorder.seconds == 0.8
    assert (left[: int(0.2 * RATE)] == 1000).all() and (left[int(0.2 * RATE):] == 0).all()
    assert (right[: int(0.5 * RATE)] == 0).all() and (right[int(0.5 * RATE):] == -2000).all()


async def test_a_recorded_call_is_stored_with_both_sides(demo_project: Project, embedder: Embedder,
                                                         tmp_path: Path) -> None:
    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings
    from bot.testing.server import serve_app
    from connectors.web import create_app

    config = demo_project.config
    project = dataclasses.replace(demo_project, config=config.model_copy(
        update={"voice": config.voice.model_copy(update={"record": True})}))
    runtime = await build_runtime(Settings(database_url=f"sqlite:///{tmp_path}/rec.db", admin_token="test-admin-token",
                                           admin_token_generated=False), project, embedder=embedder)
    async with serve_app(create_app(runtime)) as url:  # the app closes the runtime on shutdown
        async with SimulatedCaller.connect(url, call_sid="CArec") as caller:
            await caller.wait_for_speech(within=10)
            await caller.say("what are your opening hours")
            await caller.next_reply(within=20)
        rows: list[dict[str, Any]] = []
        recordings = RecordingStore(runtime.database)
        await recordings.setup()
        for _ in range(100):  # the recording is written when the server's side of the call has ended
            rows = await recordings.for_conversation("voice-CArec")
            if rows:
                break
            await asyncio.sleep(0.1)
    assert len(rows) == 1 and rows[0]["call_sid"] == "CArec"
    caller_side, bot_side = channels(bytes(rows[0]["audio"]))
    assert float(rows[0]["seconds"]) > 2
    assert np.abs(caller_side.astype(int)).max() > 1000 and np.abs(bot_side.astype(int)).max() > 1000


async def test_an_unrecorded_call_stores_no_audio(server: str, runtime: Runtime) -> None:
    async with SimulatedCaller.connect(server, call_sid="CAnorec") as caller:
        await caller.wait_for_speech(within=10)
    await asyncio.sleep(1)
    await RecordingStore(runtime.database).setup()
    assert await RecordingStore(runtime.database).for_conversation("voice-CAnorec") == []


async def test_recordings_age_out_and_go_with_the_customer(database_url: str, demo_project: Project) -> None:
    """Older than ``retention.voice_audio`` days: deleted; younger: kept; exported as base64 WAV; erased with
    the customer's conversations."""
    db = await open_database(database_url)
    try:
        await ConversationStore(db).setup()
        recorder = CallRecorder()
        recorder.heard(tone(0.1, RATE, 500), RATE)
        for conversation, days in (("old-call", 40), ("new-call", 5)):
            store = RecordingStore(db, wall_clock=functools.partial(float, NOW - days * DAY))
            await store.setup()
            await store.save(conversation, None, recorder)
        policy = RetentionConfig(voice_audio=30)
        project = dataclasses.replace(demo_project, config=demo_project.config.model_copy(update={"retention": policy}))
        report = await RetentionJob(db, project, clock=lambda: NOW).run()
        assert report.counts.get("voice_audio") == 1
        assert await RecordingStore(db).for_conversation("old-call") == []
        assert len(await RecordingStore(db).for_conversation("new-call")) == 1

        requests = DataRequests(db, demo_project)
        await requests.setup()
        await requests.customers.link("C001", "new-call", channel="voice")
        exported = await requests.export("C001", actor="olga")
        [row] = exported["tables"]["voice_recordings"]
        assert channels(base64.b64decode(row["audio"]["base64"]))[0].max() == 500
        erased = await requests.erase("C001", actor="olga")
        assert erased.rows_deleted["voice_recordings"] == 1
        assert await RecordingStore(db).for_conversation("new-call") == []
    finally:
        await db.close()
