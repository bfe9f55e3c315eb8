"""A simulated phone caller: speaks with espeak-ng or piper over a Twilio Media Streams websocket, in real time.

Like Twilio, it first asks ``POST /voice/twiml`` what to do with the call (signing the request when given
the auth token), opens the ``<Stream>`` that TwiML names and passes its parameters back in ``start``
(the stream token: the server, never the caller, chooses the conversation). Then it sends a 20 ms
μ-law frame every 20 ms for the whole call (speech when it talks, silence otherwise), presses keys as
``dtmf`` messages, and records the bot's audio, ``clear`` messages and timings. Use it to test a bot over voice::

    async with SimulatedCaller.connect("http://127.0.0.1:8080") as caller:
        greeting = await caller.next_reply()  # caller.conversation_id is the server's id for the call
        await caller.say("I want to talk to an agent")
        reply = await caller.next_reply()
        print(reply.latency_ms, await caller.transcribe(reply))
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import threading
import time
import uuid
import wave
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np

from connectors.voice.signing import twilio_signature, unverified_conversation_id

#: espeak-ng voice and rate of the simulated caller (this voice survives the 8 kHz line best for pocketsphinx).
CALLER_VOICE = "en-us+f2"
CALLER_WPM = 140
#: A caller ``voice`` that speaks with piper: ``piper`` (the bundled voice) or ``piper:/path/to/voice.onnx``.
PIPER_PREFIX = "piper"
FRAME_SECS = 0.02
RATE = 8000
FRAME_SAMPLES = int(RATE * FRAME_SECS)
SILENCE = b"\xff" * FRAME_SAMPLES
#: Bot audio louder than this (μ-law decoded, int16 mean absolute) counts as speech.
SPEECH_LEVEL = 300
#: The bot's reply is over after this long without speech frames.
REPLY_GAP_SECS = 1.0


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """16-bit PCM samples → G.711 μ-law bytes."""
    x = np.clip(pcm.astype(np.int32), -32635, 32635)
    sign = (x < 0).astype(np.int32) << 7
    x = np.abs(x) + 0x84
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (x >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes → 16-bit PCM samples."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign, exponent, mantissa = u & 0x80, (u >> 4) & 0x07, u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(sign != 0, -magnitude, magnitude).astype(np.int16)


async def synthesize(text: str, *, voice: str = CALLER_VOICE, wpm: int = CALLER_WPM) -> np.ndarray:
    """Speech for ``text`` as 8 kHz 16-bit samples (the phone line's band): espeak-ng ``voice`` at ``wpm``, or
    piper when ``voice`` is ``piper`` / ``piper:<model.onnx>`` (a neural voice, closer to a person)."""
    if voice == PIPER_PREFIX or voice.startswith(PIPER_PREFIX + ":"):
        model = voice.partition(":")[2] or None
        speaker = await asyncio.to_thread(piper_caller_voice, model)
        pcm = await asyncio.to_thread(speaker.speak_all, text)
        return np.frombuffer(pcm, dtype=np.int16).copy()
    process = await asyncio.create_subprocess_exec(
        "espeak-ng", "-v", voice, "-s", str(wpm), "--stdout", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    wav, _ = await asyncio.wait_for(process.communicate(text.encode()), timeout=30)
    return await asyncio.to_thread(line_audio, wav)


_PIPER_VOICES: dict[str | None, Any] = {}
_PIPER_LOCK = threading.Lock()


def piper_caller_voice(model: str | None = None) -> Any:
    """The piper voice the simulated caller speaks with (loaded once per process, 8 kHz out, no cache)."""
    from connectors.voice.piper_tts import PiperVoiceModel, bundled_voice

    with _PIPER_LOCK:
        if model not in _PIPER_VOICES:
            _PIPER_VOICES[model] = PiperVoiceModel(Path(model) if model else bundled_voice(), out_rate=RATE,
                                                   cache_entries=0)
        return _PIPER_VOICES[model]


def line_audio(wav: bytes) -> np.ndarray:
    """A WAV file's samples resampled to the 8 kHz phone line."""
    import soxr

    with wave.open(io.BytesIO(wav)) as reader:
        rate = reader.getframerate()
        samples = np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)
    resampled = soxr.resample(samples.astype(np.float32) / 32768, rate, RATE)
    return (np.clip(resampled, -1, 1) * 32767).astype(np.int16)


@dataclass(slots=True)
class Reply:
    """One stretch of bot speech: its audio (8 kHz PCM) and when it started and ended on the line."""

    audio: np.ndarray
    started_at: float
    ended_at: float
    latency_ms: float | None
    """From the end of the caller's last speech (or key) to the first bot audio."""
    cleared: bool = False


@dataclass(slots=True)
class _Received:
    at: float
    pcm: np.ndarray


@dataclass
class SimulatedCaller:
    """One call over ``ws`` (use :meth:`connect`)."""

    ws: aiohttp.ClientWebSocketResponse
    stream_sid: str
    call_sid: str = ""
    parameters: dict[str, str] = field(default_factory=dict)
    """The ``<Parameter>``s of the TwiML's ``<Stream>`` (the stream token), sent back in ``start``."""
    conversation_id: str | None = None
    """The conversation the server minted for this call (read from its token, unverified)."""
    voice: str = CALLER_VOICE
    wpm: int = CALLER_WPM
    received: list[_Received] = field(default_factory=list)
    clears: list[float] = field(default_factory=list)
    closed_code: int | None = None
    _outgoing: asyncio.Queue[bytes] = field(default_factory=asyncio.Queue)
    _sent_speech: asyncio.Event = field(default_factory=asyncio.Event)
    _cleared: asyncio.Event = field(default_factory=asyncio.Event)
    _sequence: int = 1
    _last_input_end: float = 0.0
    _cursor: int = 0
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    _last_speech_sent: float = 0.0

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, base_url: str, *, call_sid: str | None = None, caller_id: str | None = None,
                      auth_token: str | None = None, parameters: dict[str, str] | None = None,
                      voice: str = CALLER_VOICE, wpm: int = CALLER_WPM,
                      start: bool = True) -> AsyncIterator[SimulatedCaller]:
        """Ring ``base_url`` (http://host:port) as Twilio would: ``POST /voice/twiml`` with ``CallSid`` and
        ``From``, open the TwiML's ``<Stream>`` (both signed with ``auth_token`` when given) and, if ``start``,
        send connected + start with the TwiML's parameters (``parameters`` are added on top: tests use
        them to misbehave). A TwiML without a stream (busy) raises :class:`ConnectionError`."""
        call_sid = call_sid or "CA" + uuid.uuid4().hex
        form = {"CallSid": call_sid, "AccountSid": "AC" + "0" * 32, "Direction": "inbound"}
        if caller_id:
            form["From"] = caller_id
        async with cls.answer(base_url.rstrip("/") + "/voice/twiml", form, auth_token=auth_token,
                              parameters=parameters, voice=voice, wpm=wpm, start=start) as caller:
            yield caller

    @classmethod
    @contextlib.asynccontextmanager
    async def answer(cls, twiml_url: str, form: dict[str, str], *, auth_token: str | None = None,
                     parameters: dict[str, str] | None = None, voice: str = CALLER_VOICE, wpm: int = CALLER_WPM,
                     start: bool = True) -> AsyncIterator[SimulatedCaller]:
        """Like :meth:`connect`, for any voice webhook and form: an outbound call's answer URL with the
        ``CallSid`` Twilio placed it under and ``AnsweredBy`` (how a Twilio stand-in picks up a placed call)."""
        call_sid = form.get("CallSid", "")

        def signed(url: str, params: dict[str, str]) -> dict[str, str]:
            return {"X-Twilio-Signature": twilio_signature(auth_token, url, params.items())} if auth_token else {}

        async with aiohttp.ClientSession() as session:
            async with session.post(twiml_url, data=form, headers=signed(twiml_url, form)) as response:
                response.raise_for_status()
                url, stream_parameters = stream_of(await response.text())
            async with session.ws_connect(url, headers=signed(url, {}), max_msg_size=1 << 20) as ws:
                caller = cls(ws, "MZ" + uuid.uuid4().hex, call_sid, stream_parameters,
                             unverified_conversation_id(stream_parameters.get("token", "")), voice=voice, wpm=wpm)
                if start:
                    await caller.start(parameters=parameters)
                try:
                    yield caller
                finally:
                    await caller.hang_up()

    async def send_json(self, message: dict[str, Any]) -> None:
        """Send one raw Media Streams message (tests use it to misbehave on purpose)."""
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(message))

    async def start(self, *, parameters: dict[str, str] | None = None, call_sid: str | None = None) -> None:
        """``connected`` and ``start`` (the TwiML's parameters, plus ``parameters``; ``call_sid`` overrides the
        call's), then keep sending audio every 20 ms and reading the bot."""
        await self.send_json({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self.send_json({"event": "start", "sequenceNumber": "1", "streamSid": self.stream_sid,
                              "start": {"streamSid": self.stream_sid, "callSid": call_sid or self.call_sid,
                                        "accountSid": "AC" + "0" * 32, "tracks": ["inbound"],
                                        "customParameters": {**self.parameters, **(parameters or {})},
                                        "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000,
                                                        "channels": 1}}})
        self._tasks = [asyncio.create_task(self._send_loop()), asyncio.create_task(self._receive_loop())]

    async def hang_up(self) -> None:
        """Send ``stop``, stop the loops and close the socket."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.send_json({"event": "stop", "streamSid": self.stream_sid, "stop": {}})
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await task
        if not self.ws.closed:
            await self.ws.close()

    async def _send_loop(self) -> None:
        next_at = time.monotonic()
        chunk = 0
        while not self.ws.closed:
            try:
                frame = self._outgoing.get_nowait()
                self._last_speech_sent = time.monotonic()
            except asyncio.QueueEmpty:
                frame = SILENCE
                if not self._sent_speech.is_set():
                    self._sent_speech.set()
            self._sequence += 1
            chunk += 1
            try:
                await self.send_json({"event": "media", "sequenceNumber": str(self._sequence),
                                      "streamSid": self.stream_sid,
                                      "media": {"track": "inbound", "chunk": str(chunk),
                                                "timestamp": str(int(chunk * 20)),
                                                "payload": base64.b64encode(frame).decode()}})
            except (ConnectionError, RuntimeError):
                return
            next_at += FRAME_SECS
            now = time.monotonic()
            if next_at < now - 3 * FRAME_SECS:  # a phone line does not catch up in bursts
                next_at = now
            await asyncio.sleep(max(0.0, next_at - now))

    async def _receive_loop(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(message.data)
            if data.get("event") == "media":
                pcm = ulaw_decode(base64.b64decode(data["media"]["payload"]))
                self.received.append(_Received(time.monotonic(), pcm))
            elif data.get("event") == "clear":
                self.clears.append(time.monotonic())
                self._cleared.set()
        self.closed_code = self.ws.close_code

    async def say(self, text: str) -> float:
        """Speak ``text`` (in real time); returns when the last speech frame was sent (monotonic time)."""
        samples = await synthesize(text, voice=self.voice, wpm=self.wpm)
        return await self.play(samples)

    async def play(self, samples: np.ndarray) -> float:
        """Send 8 kHz samples as speech frames; returns when the last one went out.

        Trailing silence is trimmed first (espeak-ng pads ~0.4 s): the line carries silence between
        utterances anyway, and the end of the last voiced frame is the honest "end of speech" that
        reply latencies are measured from.
        """
        samples = trim_trailing_silence(samples)
        encoded = ulaw_encode(samples)
        frames = [encoded[i:i + FRAME_SAMPLES].ljust(FRAME_SAMPLES, b"\xff")
                  for i in range(0, len(encoded), FRAME_SAMPLES)]
        self._cursor = len(self.received)
        for frame in frames:
            self._outgoing.put_nowait(frame)
        self._sent_speech.clear()
        await asyncio.wait_for(self._sent_speech.wait(), timeout=len(frames) * FRAME_SECS * 2 + 5)
        self._last_input_end = self._last_speech_sent + FRAME_SECS
        return self._last_input_end

    async def press(self, keys: str, *, gap_secs: float = 0.15) -> None:
        """Press ``keys`` on the keypad (one ``dtmf`` message each)."""
        self._cursor = len(self.received)
        for key in keys:
            self._sequence += 1
            await self.send_json({"event": "dtmf", "streamSid": self.stream_sid,
                                  "sequenceNumber": str(self._sequence),
                                  "dtmf": {"track": "inbound_track", "digit": key}})
            await asyncio.sleep(gap_secs)
        self._last_input_end = time.monotonic()

    async def next_reply(self, *, within: float = 15.0, gap: float = REPLY_GAP_SECS) -> Reply:
        """Wait for the bot to start speaking after the caller's last input ended, and to finish; the reply."""
        deadline = time.monotonic() + within
        first = None
        while time.monotonic() < deadline:
            speech = [r for r in self.received[self._cursor:]
                      if _loud(r.pcm) and r.at > self._last_input_end]
            if first is None and speech:
                first = speech[0]
            if first is not None and time.monotonic() - (speech[-1].at if speech else first.at) >= gap:
                break
            if self.ws.closed and self.closed_code is not None:
                break
            await asyncio.sleep(0.02)
        if first is None:
            raise TimeoutError(f"the bot said nothing within {within} s")
        chunk = [r for r in self.received[self._cursor:] if r.at >= first.at]
        self._cursor = len(self.received)
        last_loud = max(r.at for r in chunk if _loud(r.pcm))
        latency = (first.at - self._last_input_end) * 1000 if self._last_input_end else None
        return Reply(np.concatenate([r.pcm for r in chunk if r.at <= last_loud]), first.at, last_loud, latency)

    async def wait_for_clear(self, *, within: float = 5.0) -> float:
        """Wait for the bot's ``clear`` (barge-in); returns when it arrived."""
        try:
            await asyncio.wait_for(self._cleared.wait(), within)
        except TimeoutError as exc:
            raise TimeoutError(f"no clear within {within} s") from exc
        return self.clears[0]

    async def wait_for_speech(self, *, within: float = 15.0) -> float:
        """Wait until the bot is audibly speaking; returns when its first loud frame arrived."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            loud = [r for r in self.received[self._cursor:] if _loud(r.pcm)]
            if loud:
                return loud[0].at
            await asyncio.sleep(0.02)
        raise TimeoutError(f"the bot did not start speaking within {within} s")

    def audio_after(self, moment: float) -> float:
        """Seconds of bot audio received after ``moment`` (monotonic)."""
        return sum(len(r.pcm) for r in self.received if r.at > moment) / RATE

    async def transcribe(self, reply: Reply) -> str:
        """What the bot said in ``reply``, as pocketsphinx (default en-US model) hears it (in a thread)."""
        return await asyncio.to_thread(transcribe, reply.audio)


def stream_of(twiml: str) -> tuple[str, dict[str, str]]:
    """The ``<Connect><Stream>`` URL and parameters of a TwiML answer; :class:`ConnectionError` without one."""
    try:
        root = ET.fromstring(twiml)  # noqa: S314 - the TwiML of the server this caller is testing
    except ET.ParseError as exc:
        raise ConnectionError(f"the line answered something that is not TwiML: {twiml[:120]!r}") from exc
    stream = root.find("./Connect/Stream")
    if stream is None or not stream.get("url"):
        said = " ".join(s.text or "" for s in root.iter("Say"))
        raise ConnectionError(f"the line answered without a stream: {said or twiml[:120]!r}")
    parameters = {p.get("name", ""): p.get("value", "") for p in stream.iter("Parameter")}
    return str(stream.get("url")), parameters


def transcribe(audio: np.ndarray) -> str:
    """8 kHz speech → text with pocketsphinx's default en-US model."""
    import soxr
    from pocketsphinx import Decoder

    pcm16k = soxr.resample(audio.astype(np.float32) / 32768, RATE, 16000)
    decoder = Decoder(loglevel="FATAL")
    decoder.start_utt()
    decoder.process_raw((np.clip(pcm16k, -1, 1) * 32767).astype(np.int16).tobytes(), False, True)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def trim_trailing_silence(samples: np.ndarray, *, keep_secs: float = 0.02) -> np.ndarray:
    """``samples`` up to the last one above :data:`SPEECH_LEVEL` (plus ``keep_secs``)."""
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > SPEECH_LEVEL)
    if loud.size == 0:
        return samples
    return samples[: min(len(samples), int(loud[-1]) + 1 + int(keep_secs * 8000))]


def _loud(pcm: np.ndarray) -> bool:
    return bool(pcm.size) and float(np.abs(pcm.astype(np.int32)).mean()) > SPEECH_LEVEL
