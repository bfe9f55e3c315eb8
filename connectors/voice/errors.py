"""Errors of the voice channel, placed in Careline's tree (see :mod:`bot.errors`).

    RequestError
    └── CallProtocolError      the telephony peer broke the Media Streams protocol; that call is closed
    ProviderError
    └── SpeechError            STT or TTS failed (espeak-ng missing or crashed, model unreadable)
"""

from __future__ import annotations

from bot.errors import ProviderError, RequestError


class CallProtocolError(RequestError):
    """A Twilio Media Streams message was malformed or out of order; only that call is closed."""

    #: WebSocket close code sent to the peer (1002: protocol error).
    close_code = 1002


class SpeechError(ProviderError):
    """Speech recognition or synthesis failed."""
