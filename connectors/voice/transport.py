"""A pipecat transport over an aiohttp websocket (modelled on pipecat's FastAPI websocket transport).

The voice stream is served by the same aiohttp app as the web channels, so no second server. Input:
every websocket message goes through the serializer; a :class:`CallProtocolError` closes this call's
socket with code 1002 and ``stop`` closes it normally. Output: audio is paced at real time (one chunk
per chunk duration) so a ``clear`` on barge-in leaves little queued at the telephony side.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InterruptionFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessorSetup
from pipecat.serializers.base_serializer import FrameSerializer
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams

from bot.infra.logs import get_logger
from connectors.voice.errors import CallProtocolError
from connectors.voice.recording import CallRecorder
from connectors.voice.serializer import CallStopped

log = get_logger(__name__)

CLOSE_TIMEOUT_SECS = 0.5


class AiohttpWebsocketParams(TransportParams):
    """Transport parameters plus the serializer that speaks the telephony protocol."""

    serializer: FrameSerializer | None = None
    #: Close the call after this many seconds (``None``: never).
    session_timeout: float | None = None
    #: Both sides of the call's audio are handed to it (``voice.record``), or ``None``.
    recorder: CallRecorder | None = None


class AiohttpWebsocketClient:
    """The websocket one call runs on: send, receive, close once."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.closing = False
        self.close_code: int = int(WSCloseCode.OK)
        self.close_reason = ""

    @property
    def connected(self) -> bool:
        return not self.ws.closed and not self.closing

    async def send(self, data: str | bytes) -> bool:
        """Send ``data``; False when the socket is gone (the caller hung up)."""
        if not self.connected:
            return False
        try:
            if isinstance(data, bytes):
                await self.ws.send_bytes(data)
            else:
                await self.ws.send_str(data)
        except (ConnectionError, RuntimeError) as exc:
            log.info("voice_send_failed", error=type(exc).__name__)
            return False
        return True

    async def close(self, code: int = WSCloseCode.OK, reason: str = "") -> None:
        """Close the socket once, waiting at most :data:`CLOSE_TIMEOUT_SECS` for the peer."""
        if self.closing:
            return
        self.closing = True
        self.close_code, self.close_reason = code, reason
        if self.ws.closed:
            return
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason[:120].encode()), CLOSE_TIMEOUT_SECS)
        except (TimeoutError, ConnectionError):
            log.info("voice_close_timed_out")


class AiohttpWebsocketInputTransport(BaseInputTransport):
    """Reads Media Streams messages and pushes audio and DTMF frames into the pipeline."""

    def __init__(self, transport: AiohttpWebsocketTransport, client: AiohttpWebsocketClient,
                 params: AiohttpWebsocketParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._client = client
        self._ws_params = params
        self._receive_task: asyncio.Task[None] | None = None
        self._timeout_task: asyncio.Task[None] | None = None

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        await super().setup(setup)
        if self._ws_params.serializer:
            await self._ws_params.serializer.setup(setup)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        if self._receive_task is None:
            self._receive_task = self.create_task(self._receive())
        if self._timeout_task is None and self._ws_params.session_timeout:
            self._timeout_task = self.create_task(self._session_timeout(self._ws_params.session_timeout))
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._teardown()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._teardown()

    async def cleanup(self) -> None:
        await super().cleanup()
        await self._teardown()

    async def _teardown(self) -> None:
        for task in (self._receive_task, self._timeout_task):
            if task is not None:
                await self.cancel_task(task)
        self._receive_task = self._timeout_task = None
        await self._client.close()

    async def _receive(self) -> None:
        serializer = self._ws_params.serializer
        code: int = WSCloseCode.OK
        reason = "stream stopped"
        try:
            async for message in self._client.ws:
                if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    break
                if serializer is None:
                    continue
                frame = await serializer.deserialize(message.data)
                if frame is None:
                    continue
                if isinstance(frame, InputAudioRawFrame):
                    if self._ws_params.recorder is not None:
                        self._ws_params.recorder.heard(frame.audio, frame.sample_rate)
                    await self.push_audio_frame(frame)
                else:
                    await self.push_frame(frame)
        except CallStopped:
            log.info("voice_stream_stopped")
        except CallProtocolError as exc:
            code, reason = CallProtocolError.close_code, str(exc)
            log.warning("voice_protocol_error", error=str(exc))
        await self._client.close(code, reason)
        await self._transport.disconnected()

    async def _session_timeout(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        log.info("voice_call_time_limit", seconds=seconds)
        await self._client.close(WSCloseCode.OK, "call time limit")
        await self._transport.disconnected()


class AiohttpWebsocketOutputTransport(BaseOutputTransport):
    """Serializes audio, ``clear`` and messages to the websocket, paced like a sound card."""

    def __init__(self, transport: AiohttpWebsocketTransport, client: AiohttpWebsocketClient,
                 params: AiohttpWebsocketParams, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._transport = transport
        self._client = client
        self._ws_params = params
        self._send_interval = 0.0
        self._next_send_time = 0.0

    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        await super().setup(setup)
        if self._ws_params.serializer:
            await self._ws_params.serializer.setup(setup)

    async def start(self, frame: StartFrame) -> None:
        await super().start(frame)
        # audio_chunk_size is in bytes of 16-bit mono PCM: bytes / (2 * rate) seconds per chunk.
        self._send_interval = self.audio_chunk_size / (2 * self.sample_rate)
        await self.set_transport_ready(frame)

    async def stop(self, frame: EndFrame) -> None:
        await super().stop(frame)
        await self._write_frame(frame)
        await self._client.close()

    async def cancel(self, frame: CancelFrame) -> None:
        await super().cancel(frame)
        await self._write_frame(frame)
        await self._client.close()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, InterruptionFrame):
            await self._write_frame(frame)  # Twilio "clear": drop what it still buffers
            self._next_send_time = 0

    async def send_message(self, frame: OutputTransportMessageFrame | OutputTransportMessageUrgentFrame) -> None:
        await self._write_frame(frame)

    async def write_audio_frame(self, frame: OutputAudioRawFrame) -> bool:
        if not self._client.connected:
            return False
        frame = OutputAudioRawFrame(audio=frame.audio, sample_rate=self.sample_rate,
                                    num_channels=self._ws_params.audio_out_channels)
        if not await self._write_frame(frame):
            return False
        if self._ws_params.recorder is not None:
            self._ws_params.recorder.said(frame.audio, self.sample_rate)
        await self._pace()
        return True

    async def _write_frame(self, frame: Frame) -> bool:
        if not self._client.connected or self._ws_params.serializer is None:
            return False
        payload = await self._ws_params.serializer.serialize(frame)
        if not payload:
            return True
        return await self._client.send(payload)

    async def _pace(self) -> None:
        now = time.monotonic()
        delay = max(0.0, self._next_send_time - now)
        await asyncio.sleep(delay)
        if delay == 0:
            self._next_send_time = time.monotonic() + self._send_interval
        else:
            self._next_send_time += self._send_interval


class AiohttpWebsocketTransport(BaseTransport):
    """Input and output processors for one call's websocket.

    Event handlers: ``on_client_disconnected(transport)`` — the peer left, broke the protocol or the
    call reached its time limit; the pipeline should be cancelled.
    """

    def __init__(self, ws: web.WebSocketResponse, params: AiohttpWebsocketParams) -> None:
        super().__init__()
        self.client = AiohttpWebsocketClient(ws)
        self._input = AiohttpWebsocketInputTransport(self, self.client, params)
        self._output = AiohttpWebsocketOutputTransport(self, self.client, params)
        self._register_event_handler("on_client_disconnected")
        self._disconnected = False

    def input(self) -> AiohttpWebsocketInputTransport:
        return self._input

    def output(self) -> AiohttpWebsocketOutputTransport:
        return self._output

    async def disconnected(self) -> None:
        """Tell listeners (once) that this call is over."""
        if self._disconnected:
            return
        self._disconnected = True
        await self._call_event_handler("on_client_disconnected")
