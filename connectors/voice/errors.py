"""Errors of the voice channel, placed in Careline's tree (see :mod:`bot.kernel.errors`).

    RequestError
    ├── CallProtocolError      the telephony peer broke the Media Streams protocol; that call is closed
    ├── StreamRefused          the media stream's token is missing, forged, expired or for another call
    └── WebhookForbidden       a Twilio webhook without a valid ``X-Twilio-Signature`` (HTTP 403)
    ProviderError
    └── SpeechError            STT or TTS failed (espeak-ng missing or crashed, model unreadable)
"""

from __future__ import annotations

from bot.kernel.errors import ProviderError, RequestError


class CallProtocolError(RequestError):
    """A Twilio Media Streams message was malformed or out of order; only that call is closed."""

    #: WebSocket close code sent to the peer (1002: protocol error).
    close_code = 1002


class StreamRefused(RequestError):
    """The media stream did not carry a valid token minted by ``/voice/twiml`` for this call."""

    #: WebSocket close code sent to the peer (1008: policy violation).
    close_code = 1008


class WebhookForbidden(RequestError):
    """A Twilio webhook whose ``X-Twilio-Signature`` is missing or does not match the request."""

    status = 403


class SpeechError(ProviderError):
    """Speech recognition or synthesis failed."""
