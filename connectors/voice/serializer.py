"""Twilio Media Streams messages: the call's opening handshake and a strict frame serializer.

Twilio sends ``connected`` then ``start`` (stream and call ids, custom parameters), then ``media``
(base64 8 kHz μ-law), ``dtmf``, ``mark`` and finally ``stop``. We answer with ``media``, ``mark`` and
``clear`` (barge-in). Anything malformed or out of order raises :class:`CallProtocolError`, which closes
that one call; other calls never notice.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

from pipecat.audio.dtmf.types import KeypadEntry
from pipecat.audio.utils import ulaw_to_pcm
from pipecat.frames.frames import Frame, InputAudioRawFrame, InputDTMFFrame
from pipecat.serializers.twilio import TwilioFrameSerializer

from bot.infra.logs import get_logger
from connectors.voice.errors import CallProtocolError

log = get_logger(__name__)

#: Largest media payload we accept (Twilio sends 20 ms = 160 bytes; 1 s is generous).
MAX_MEDIA_BYTES = 8000


class CallStopped(Exception):
    """Twilio sent ``stop``: the caller hung up or the stream was ended."""


@dataclass(frozen=True, slots=True)
class StreamStart:
    """What Twilio's ``start`` message told us about the call."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None = None
    custom_parameters: dict[str, str] = field(default_factory=dict)


def parse_message(raw: str | bytes) -> dict[str, Any]:
    """One Media Streams message as a dict with a string ``event``; raises :class:`CallProtocolError`."""
    if isinstance(raw, bytes):
        raise CallProtocolError("binary websocket message; Media Streams messages are JSON text")
    try:
        message = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CallProtocolError(f"message is not JSON ({exc.msg} at {exc.pos})") from exc
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise CallProtocolError("message has no 'event' string")
    return message


def parse_start(message: dict[str, Any]) -> StreamStart:
    """The ``start`` message's ids and parameters; raises :class:`CallProtocolError` when one is missing."""
    start = message.get("start")
    if not isinstance(start, dict):
        raise CallProtocolError("'start' message without a 'start' object")
    stream_sid = start.get("streamSid") or message.get("streamSid")
    if not isinstance(stream_sid, str) or not stream_sid:
        raise CallProtocolError("'start' message without a streamSid")
    params = start.get("customParameters") or {}
    if not isinstance(params, dict):
        raise CallProtocolError("'customParameters' must be an object")
    call_sid = start.get("callSid")
    account_sid = start.get("accountSid")
    return StreamStart(
        stream_sid=stream_sid,
        call_sid=call_sid if isinstance(call_sid, str) else None,
        account_sid=account_sid if isinstance(account_sid, str) else None,
        custom_parameters={str(k): str(v) for k, v in params.items()},
    )


class StrictTwilioSerializer(TwilioFrameSerializer):
    """pipecat's Twilio serializer, refusing what Twilio would never send instead of skipping it."""

    def __init__(self, start: StreamStart, **kwargs: Any) -> None:
        super().__init__(start.stream_sid, start.call_sid, **kwargs)
        self.start = start
        self.marks: list[str] = []

    async def deserialize(self, data: str | bytes) -> Frame | None:
        message = parse_message(data)
        event = message["event"]
        if event == "media":
            return await self._media(message)
        if event == "dtmf":
            digit = (message.get("dtmf") or {}).get("digit") if isinstance(message.get("dtmf"), dict) else None
            try:
                return InputDTMFFrame(KeypadEntry(str(digit)))
            except ValueError as exc:
                raise CallProtocolError(f"dtmf message with an invalid digit {digit!r}") from exc
        if event == "mark":
            name = (message.get("mark") or {}).get("name") if isinstance(message.get("mark"), dict) else None
            self.marks.append(str(name))
            return None
        if event == "stop":
            raise CallStopped()
        if event in ("start", "connected"):
            raise CallProtocolError(f"'{event}' message after the stream started")
        log.debug("voice_unknown_event_ignored", twilio_event=event[:40])
        return None

    async def _media(self, message: dict[str, Any]) -> Frame | None:
        media = message.get("media")
        payload = media.get("payload") if isinstance(media, dict) else None
        if not isinstance(payload, str):
            raise CallProtocolError("media message without a base64 'payload'")
        if len(payload) > MAX_MEDIA_BYTES * 4 // 3 + 4:
            raise CallProtocolError(f"media payload of {len(payload)} characters is too large")
        try:
            ulaw = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CallProtocolError("media payload is not valid base64") from exc
        if not ulaw:
            return None
        pcm = await ulaw_to_pcm(ulaw, self._twilio_sample_rate, self._sample_rate, self._input_resampler)
        if not pcm:
            return None
        return InputAudioRawFrame(audio=pcm, num_channels=1, sample_rate=self._sample_rate)
