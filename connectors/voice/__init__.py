"""The phone channel: Twilio Media Streams → pipecat pipeline → the same engine as the chat.

    caller ─ Twilio ─▶ POST /voice/twiml ─▶ <Connect><Stream> ─▶ GET /voice/stream (websocket)
        transport in → Silero VAD → pocketsphinx STT → turns (barge-in, smart-turn) → engine bridge
        → espeak-ng TTS → transport out (paced 8 kHz μ-law, ``clear`` on barge-in)

Modules follow the audio: :mod:`.serializer` (Media Streams messages), :mod:`.transport` (aiohttp
websocket), :mod:`.stt` and :mod:`.lm` (recognition and the project's speech model), :mod:`.turns`,
:mod:`.bridge` (engine, DTMF, interruptions, handoff), :mod:`.tts`, :mod:`.pipeline` (one call),
:mod:`.routes` (HTTP), :mod:`.twiml`, :mod:`.caller` (the simulated caller; ``careline call``).

Importing this package stays light (no pipecat): it re-exports the ``voice:`` settings (:mod:`.config`) only.
"""

from connectors.voice.config import TwilioCredentials, VoiceConfig

__all__ = ["TwilioCredentials", "VoiceConfig"]
