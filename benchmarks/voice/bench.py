"""Voice benchmarks on the demo bot: WER and first-audio latency per engine, real-time factors, concurrent calls.

    python benchmarks/voice/bench.py [--calls 1,2,4,8] [--no-calls | --calls-only] [--json out.json]

Every time is also given as a multiple of an in-process floor (``floor_ms``: one second of call audio through
the line codec), so runs on a loaded machine can be compared.

* first audio (``tts``): ``TTSSpeakFrame`` → the TTS processor's first audio frame, per engine (espeak-ng;
  piper cold; piper from its phrase cache), and synthesis real-time factors.
* WER (``stt``): the dev suite (``SUITE``) and a held-aside one (``HELD_ASIDE``) spoken by three voices
  (espeak-ng en-us+f2, the simulated caller's; espeak-ng en-us; piper joe) through the phone path (8 kHz
  μ-law → 16 kHz, with line silence around them), per engine and turn kind (open vs closed answers):
  pocketsphinx's default model, the domain LM, the closed grammars; faster-whisper tiny.en (30 s and 10 s
  windows); ``shipped`` = grammars for closed answers + Whisper (the default window) for open ones. Words
  are compared after :func:`normalize` (digits spelled, "oh" = "zero", a few contractions), the same for
  every engine.
* latency: end of the simulated caller's speech → first bot audio on the line, over ``QUESTIONS``, for the
  shipped engines (piper + Whisper) and the previous default (espeak-ng + pocketsphinx), with smart-turn on
  (and off with ``--vad-only``). VAD stop delay is 0.2 s (Silero ``stop_secs``) and is included.
* concurrency: N calls at once (1, 2, 4, 8), each asking :data:`QUESTIONS`: p50/p95 end of speech → first bot
  audio, and the server's CPU seconds per call, split by component (:mod:`connectors.voice.cpu`: VAD,
  smart-turn, pocketsphinx, Whisper, piper; espeak-ng as the server's child processes; the engine's CPU per turn
  measured alone; ``rest`` = the process's CPU minus the components: engine, pipecat frames, websocket, codec).

The server runs in this process on loopback; the simulated callers run in a child process (``--drive``), so
this process's CPU is the server's alone. On a shared machine read CPU seconds per call and ratios, not
wall-clock latency alone (each run records the load average).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np

#: Silence after the bot's last audio that counts as the end of its answer in the latency runs.
REPLY_QUIET_SECS = 2.5
#: What callers say in the latency runs (open questions, answered by flows or the knowledge base).
QUESTIONS = ["what are your opening hours", "can I return a sofa", "I need help", "do you deliver abroad"]
#: The WER suite: (utterance, grammar kind or None for the open LM).
SUITE = [("where is my order", None), ("I want to talk to an agent", None), ("what are your opening hours", None),
         ("can I return a sofa", None), ("I need to change my delivery address", None), ("agent", None),
         ("talk to a person please", None), ("do you deliver abroad", None), ("yes", "yes_no"),
         ("no", "yes_no"), ("four five six seven", "pin"), ("one nine one two", "pin"),
         ("A one oh oh one", "code"), ("B two oh oh four", "code")]


#: Open questions and closed answers written for this benchmark after the engines were chosen, never used to
#: tune anything (the held-aside set): what callers of a shop or a clinic say, not the demo's NLU examples.
HELD_ASIDE = [("has my parcel been sent yet", None), ("I would like to speak to someone", None),
              ("when do you close on saturday", None), ("how long does delivery take", None),
              ("can I cancel my appointment", None), ("my order arrived damaged", None), ("I want a refund", None),
              ("do you have any chairs in stock", None), ("I need to book an appointment for next week", None),
              ("what is your returns policy", None), ("the delivery driver never came", None),
              ("can you send me a new code", None), ("how much does shipping cost", None),
              ("please put me through to a human", None), ("I want to reschedule my delivery", None),
              ("nine eight seven six", "pin"), ("C three oh oh two", "code"), ("no", "yes_no")]
#: Who speaks the utterances: the simulated caller's espeak-ng voice, espeak-ng's default, the piper voice.
SPEAKERS = {"espeak_f2": ("en-us+f2", 140), "espeak_us": ("en-us", 165), "piper_joe": ("piper", 0)}
#: What a reply's first audio is measured on (bot answers of the demo, short and long first sentences).
REPLIES = ["Thanks. Please say or key in your four-digit PIN.",
           "Sorry, I need an email address, a phone number or an order number (like A1001).",
           "First I need to check it's you. What's the email address, phone number or order number on your account?",
           "Our stores are open from nine to six, Monday to Saturday, and from ten to four on Sundays."]
_CONTRACTIONS = {"where's": "where is", "what's": "what is", "it's": "it is", "i'm": "i am", "i'd": "i would",
                 "don't": "do not", "can't": "can not", "cannot": "can not", "i've": "i have", "oh": "zero",
                 "o": "zero", "ok": "okay"}


def normalize(text: str) -> list[str]:
    """Words for WER on both sides: lower case, punctuation dropped, digits spelled out ("4567", "B-204"),
    "oh" as "zero", a few contractions expanded ("where's" = "where is") — so an engine that writes digits
    or contractions is not charged for the writing, only for what it heard."""
    from connectors.voice.lm import words

    out: list[str] = []
    for word in words(text.replace("-", " ")):
        out += _CONTRACTIONS.get(word, word).split()
    return out


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) by Levenshtein distance over :func:`normalize`d words."""
    ref, hyp = normalize(reference), normalize(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def voice_floor_ms(samples: int = 200) -> float:
    """The in-process floor: p50 of moving one second of call audio through the line codec (soxr 16 → 8 kHz
    and μ-law encoding), the least any engine's audio costs on its way to or from Twilio."""
    import soxr

    from connectors.voice.caller import ulaw_encode

    second = (np.sin(np.arange(16000) * 0.05) * 8000).astype(np.int16)
    timings = []
    for _ in range(samples):
        started = time.perf_counter()
        line = soxr.resample(second.astype(np.float32) / 32768, 16000, 8000)
        ulaw_encode((line * 32767).astype(np.int16))
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


async def speak(text: str, speaker: str) -> np.ndarray:
    from connectors.voice.caller import synthesize

    voice, wpm = SPEAKERS[speaker]
    return await synthesize(text, voice=voice, wpm=wpm or 140)


async def measure_stt(project: object, floor_ms: float) -> dict[str, object]:
    """WER per speaker, engine and turn kind, the way a call decodes: each utterance sent through the phone
    line (0.5 s of line silence before, 0.2 s after, μ-law, 16 kHz). pocketsphinx: decoded live in 100 ms
    batches by one decoder per recognizer (its running cepstral mean carried from utterance to utterance, as
    within a call), closed answers decoded whole with their grammar. faster-whisper (tiny.en, int8): the whole
    turn at once, as the call hands it over, with the full 30 s window (the default) and with 10 s of context.
    ``shipped`` is what a call does by default: closed grammars for closed answers, Whisper for the rest."""
    from pocketsphinx import Decoder

    from bot.project.channels import STTConfig
    from connectors.voice.caller import trim_trailing_silence
    from connectors.voice.channel import phone_line
    from connectors.voice.lm import Expect, Expectation, SpeechModel, grammar
    from connectors.voice.stt import trim_leading_silence
    from connectors.voice.whisper_stt import WhisperRecognizer, whisper_available

    model = SpeechModel.build(project, folder=Path(tempfile.mkdtemp()))  # type: ignore[arg-type]
    forms = {"yes_no": Expectation(Expect.YES_NO), "pin": Expectation(Expect.DIGITS, digits=4),
             "code": Expectation(Expect.CODE, digits=4)}
    whispers = {}
    if whisper_available():
        whispers = {"whisper_30s": WhisperRecognizer.load(STTConfig(whisper_context_secs=None)),
                    "whisper_10s": WhisperRecognizer.load(STTConfig(whisper_context_secs=10))}
    shipped_whisper = "whisper_30s" if STTConfig().whisper_context_secs is None else "whisper_10s"

    def decoders() -> tuple[Decoder, Decoder]:
        line_mean = {"cmninit": model.cmn_init} if model.cmn_init else {}
        domain = Decoder(lm=str(model.arpa), dict=str(model.dictionary), loglevel="FATAL", **line_mean)
        for name, form in forms.items():
            domain.add_jsgf_string(name, grammar(form, model.vocabulary) or "")
        return domain, Decoder(loglevel="FATAL")

    def decode(decoder: Decoder, search: str | None, audio: np.ndarray) -> str:
        if search:
            decoder.activate_search(search)
        decoder.start_utt()
        if search and search != "_default":  # a closed grammar: the whole answer at once
            decoder.process_raw(trim_leading_silence(audio.tobytes()), False, True)
        else:
            for start in range(0, len(audio), 1600):
                decoder.process_raw(audio[start:start + 1600].tobytes(), False, False)
        decoder.end_utt()
        return decoder.hyp().hypstr if decoder.hyp() else ""

    engines = ["pocketsphinx_default", "pocketsphinx_domain_lm", "pocketsphinx_grammars", *whispers]
    if whispers:
        engines.append("shipped")
    results: dict[str, object] = {}
    decode_ms: dict[str, list[float]] = {e: [] for e in engines if e != "shipped"}
    examples: list[dict[str, str]] = []
    for speaker in SPEAKERS:
        domain, default = decoders()  # a fresh "call" per speaker: the running mean starts from the line's
        for set_name, suite in (("dev", SUITE), ("held_aside", HELD_ASIDE)):
            totals = {e: {"open": [0, 0], "grammar": [0, 0]} for e in engines}
            for text, form in suite:
                speech = trim_trailing_silence(await speak(text, speaker))
                pcm = phone_line(np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(1600, np.int16)]))
                kind = "grammar" if form else "open"
                heard: dict[str, str] = {}
                for engine in engines:
                    if engine == "shipped":
                        heard[engine] = heard["pocketsphinx_grammars" if form else shipped_whisper]
                        continue
                    started = time.perf_counter()
                    if engine == "pocketsphinx_default":
                        heard[engine] = decode(default, None, pcm)
                    elif engine == "pocketsphinx_domain_lm":
                        heard[engine] = decode(domain, "_default", pcm)
                    elif engine == "pocketsphinx_grammars":
                        heard[engine] = decode(domain, form or "_default", pcm)
                    else:
                        heard[engine] = await asyncio.to_thread(whispers[engine].transcribe, pcm.tobytes())
                    decode_ms[engine].append((time.perf_counter() - started) * 1000)
                for engine in engines:
                    edits, words = wer(text, heard[engine])
                    totals[engine][kind][0] += edits
                    totals[engine][kind][1] += words
                examples.append({"speaker": speaker, "set": set_name, "said": text, **heard})
            results[f"{speaker}/{set_name}"] = {
                engine: {"open": round(k["open"][0] / max(1, k["open"][1]), 3),
                         "grammar": round(k["grammar"][0] / max(1, k["grammar"][1]), 3),
                         "all": round((k["open"][0] + k["grammar"][0]) / max(1, k["open"][1] + k["grammar"][1]), 3)}
                for engine, k in totals.items()}
            print(f"WER {speaker}/{set_name}: {results[f'{speaker}/{set_name}']}", flush=True)
    timing = {engine: {"mean_ms": round(statistics.mean(v), 1), "p95_ms": round(percentile(v, 0.95), 1),
                       "mean_x_floor": round(statistics.mean(v) / floor_ms, 1)}
              for engine, v in decode_ms.items() if v}
    return {"wer": results, "decode_per_utterance": timing, "transcripts": examples}


class _Sink:
    """Stands in for the pipeline after a TTS processor: records when audio frames were pushed."""

    def __init__(self) -> None:
        self.frames: list[tuple[float, int]] = []

    async def push(self, frame: object, *_args: object) -> None:
        audio = getattr(frame, "audio", None)
        if audio:
            self.frames.append((time.perf_counter(), len(audio)))


async def measure_tts(project: object, floor_ms: float) -> dict[str, object]:
    """First audio per engine: from the ``TTSSpeakFrame`` to the first audio frame the TTS processor pushes,
    for the demo's replies (espeak-ng: a process per utterance; piper: the first clause synthesized, cold and
    from the phrase cache); and synthesis real-time factors."""
    from bot.project.channels import TTSConfig
    from connectors.voice.piper_tts import PiperTTS, PiperVoiceModel, piper_available
    from connectors.voice.tts import EspeakTTS

    out: dict[str, object] = {}
    makers: dict[str, object] = {"espeak_ng": lambda: EspeakTTS(TTSConfig(engine="espeak-ng"), sample_rate=8000)}
    if piper_available():
        cold = PiperVoiceModel.load(TTSConfig(cache_entries=0), out_rate=8000)
        warm = PiperVoiceModel.load(TTSConfig(), out_rate=8000)
        warm.warm(REPLIES)
        makers["piper_cold"] = lambda: PiperTTS(cold)
        makers["piper_cached"] = lambda: PiperTTS(warm)
    for name, make in makers.items():
        firsts, wall, audio = [], 0.0, 0.0
        for _ in range(3):
            for text in REPLIES:
                tts = make()  # type: ignore[operator]
                sink = _Sink()
                tts.push_frame = sink.push  # type: ignore[method-assign]
                started = time.perf_counter()
                await tts.speak(text)
                wall += time.perf_counter() - started
                audio += sum(n for _, n in sink.frames) / 16000
                firsts.append((sink.frames[0][0] - started) * 1000)
        out[name] = {"first_audio_p50_ms": round(statistics.median(firsts), 1),
                     "first_audio_p95_ms": round(percentile(firsts, 0.95), 1),
                     "first_audio_p50_x_floor": round(statistics.median(firsts) / floor_ms, 1),
                     "rtf": round(wall / audio, 4) if audio else None}
        print(f"TTS {name}: {out[name]}", flush=True)
    return out


async def one_call(url: str, questions: list[str], audio: dict[str, np.ndarray]) -> list[float]:
    from connectors.voice.caller import SimulatedCaller

    latencies = []
    async with SimulatedCaller.connect(url) as caller:  # a fresh CallSid: the server names the call
        for question in questions:
            await caller.play(audio[question])
            try:
                # A long answer has pauses over a second (between messages): wait for real quiet before the next
                # question, or the caller talks over the end of the answer (a barge-in, not a new turn).
                reply = await caller.next_reply(within=30, gap=REPLY_QUIET_SECS)
            except TimeoutError:
                continue
            if reply.latency_ms is not None:
                latencies.append(reply.latency_ms)
    return latencies


async def drive(url: str, calls: int, stagger_secs: float) -> None:
    """The callers' side, in a process of its own (``--drive``): ``calls`` simulated calls at once, each asking
    :data:`QUESTIONS` (spoken once per process, then replayed); prints the latencies as one JSON line."""
    from connectors.voice.caller import synthesize

    audio = {q: await synthesize(q) for q in QUESTIONS}

    async def staggered(index: int) -> list[float]:
        await asyncio.sleep(index * stagger_secs)  # calls do not all speak in the same 20 ms
        return await one_call(url, QUESTIONS, audio)

    results = await asyncio.gather(*(staggered(i) for i in range(calls)))
    print(json.dumps({"latencies_ms": [v for r in results for v in r]}), flush=True)


#: The call configurations the latency runs compare: what ships, and the previous default.
CALL_ENGINES = {"piper+whisper": ({"engine": "piper"}, {"open_answers": "whisper"}),
                "piper+whisper_30s": ({"engine": "piper"}, {"open_answers": "whisper", "whisper_context_secs": None}),
                "espeak+pocketsphinx": ({"engine": "espeak-ng"}, {"open_answers": "pocketsphinx"})}


def process_cpu() -> tuple[float, float]:
    """(this process's CPU seconds, its finished children's: espeak-ng runs as a child)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


async def engine_cpu_per_turn(runtime: object, rounds: int = 3) -> float:
    """The engine's CPU seconds per turn on :data:`QUESTIONS`, measured alone (a text turn on channel voice,
    nothing else running in the process): the engine's part of a call's profile."""
    from bot.kernel.messages import UserMessage

    engine = runtime.engine  # type: ignore[attr-defined]
    await engine.handle("bench-engine-warm", UserMessage(QUESTIONS[0], "voice", {}))
    started, turns = time.process_time(), 0
    for r in range(rounds):
        for question in QUESTIONS:
            await engine.handle(f"bench-engine-{r}", UserMessage(question, "voice", {}))
            turns += 1
    return (time.process_time() - started) / turns


async def latency_runs(project: object, settings_dir: str, calls: list[int], smart_turn: bool,
                       engines: str = "piper+whisper") -> dict[str, object]:
    """End of speech → first bot audio at each concurrency in ``calls``, and the server's CPU per call: the
    callers run in a child process, so this process's CPU is the server's alone (plus espeak-ng's, a child)."""
    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings
    from bot.testing.server import serve_app
    from connectors.voice.cpu import CPU
    from connectors.web import create_app

    voice = project.config.voice  # type: ignore[attr-defined]
    turns = voice.turns.model_copy(update={"smart_turn": smart_turn})
    tts, stt = CALL_ENGINES[engines]
    voice = voice.model_copy(update={"greeting": None, "turns": turns, "tts": voice.tts.model_copy(update=tts),
                                     "stt": voice.stt.model_copy(update=stt)})
    config = project.config.model_copy(update={"voice": voice})  # type: ignore[attr-defined]
    patched = dataclasses.replace(project, config=config)  # type: ignore[type-var]
    runtime = await build_runtime(Settings(database_url=f"sqlite:///{settings_dir}/bench-{smart_turn}-{engines}.db",
                                           admin_token="bench-admin-token", admin_token_generated=False), patched)
    out: dict[str, object] = {"engine_cpu_s_per_turn_alone": round(await engine_cpu_per_turn(runtime), 4)}
    async with serve_app(create_app(runtime)) as url:
        # The start-up warm-up (piper caching the first piece of every fixed response) is not a call's cost.
        for thread in threading.enumerate():
            if thread.name == "piper-openings":
                await asyncio.to_thread(thread.join)
        for n in calls:
            CPU.reset()
            own, children = process_cpu()
            started = time.perf_counter()
            driver = await asyncio.create_subprocess_exec(
                sys.executable, __file__, "--drive", url, "--drive-calls", str(n),
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            stdout, _ = await driver.communicate()
            wall = time.perf_counter() - started
            own_after, children_after = process_cpu()
            lines = [line for line in stdout.decode().splitlines() if line.startswith("{")]
            values: list[float] = json.loads(lines[-1])["latencies_ms"] if lines else []
            parts = CPU.snapshot()
            server_cpu = (own_after - own) + (children_after - children)
            if engines.startswith("espeak"):
                parts["tts_espeak"] = {"cpu_s": round(children_after - children, 4), "runs": 0}
            measured = sum(p["cpu_s"] for p in parts.values())
            p50 = statistics.median(values) if values else None
            out[str(n)] = {"calls": n, "replies": len(values), "expected": n * len(QUESTIONS),
                           "p50_ms": round(p50) if p50 is not None else None,
                           "p95_ms": round(percentile(values, 0.95)) if values else None,
                           "p50_x_floor": round(p50 / FLOOR_MS[0], 1) if p50 is not None and FLOOR_MS else None,
                           "wall_s": round(wall, 1),
                           "server_cpu_s_per_call": round(server_cpu / n, 3),
                           "server_cpu_share_of_2_cores": round(server_cpu / wall / 2, 3),
                           "cpu_s_per_call_by_part": {k: round(v["cpu_s"] / n, 3) for k, v in parts.items()},
                           "runs_per_call_by_part": {k: round(v["runs"] / n, 1) for k, v in parts.items()},
                           "rest_cpu_s_per_call": round((server_cpu - measured) / n, 3),
                           "load_average": os.getloadavg()[0]}
            print(f"{engines} smart_turn={smart_turn} calls={n}: {out[str(n)]}", flush=True)
    await runtime.close()
    return out


FLOOR_MS: list[float] = []


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", default="1,2,4,8")
    parser.add_argument("--json", default=None)
    parser.add_argument("--vad-only", action="store_true", help="also run with smart-turn off (VAD stop ends turns)")
    parser.add_argument("--no-calls", action="store_true", help="WER and first audio only (no simulated calls)")
    parser.add_argument("--no-transcripts", action="store_true", help="leave the per-utterance transcripts out")
    parser.add_argument("--no-wer", action="store_true", help="first audio and call latency only")
    parser.add_argument("--engines", default="piper+whisper,espeak+pocketsphinx", help="call configurations to time")
    parser.add_argument("--calls-only", action="store_true", help="the concurrent calls only (no WER, no TTS)")
    parser.add_argument("--drive", default=None, help=argparse.SUPPRESS)  # the callers' child process
    parser.add_argument("--drive-calls", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        from bot.infra.logs import configure_logging

        configure_logging(level="error")
        await drive(args.drive, args.drive_calls, stagger_secs=0.37)
        return
    from bot.infra.logs import configure_logging
    from bot.infra.settings import DEMO_PROJECT
    from bot.project import load_project
    from connectors.voice.logs import route_pipecat_logs

    configure_logging(level="warning")
    route_pipecat_logs("ERROR")
    project = load_project(DEMO_PROJECT)
    FLOOR_MS.append(voice_floor_ms())
    report: dict[str, object] = {"load_average_at_start": os.getloadavg(), "cpus": os.cpu_count(),
                                 "floor_ms": round(FLOOR_MS[0], 3),
                                 "floor": "p50 of one second of call audio through soxr 16->8 kHz + mu-law encode",
                                 "vad_stop_secs": project.config.voice.vad.stop_secs,
                                 "smart_turn_max_silence_secs": project.config.voice.turns.max_silence_secs}
    report["tts"] = {} if args.calls_only else await measure_tts(project, FLOOR_MS[0])
    stt: dict[str, object] = {} if args.no_wer or args.calls_only else await measure_stt(project, FLOOR_MS[0])
    if args.no_transcripts and stt:
        stt.pop("transcripts")
    report["stt"] = stt

    def save() -> None:
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2))

    await asyncio.to_thread(save)  # the WER figures survive a failure in the call runs
    calls = [int(c) for c in args.calls.split(",")]
    if not args.no_calls:
        with tempfile.TemporaryDirectory() as folder:
            for engines in args.engines.split(","):
                report[f"latency_smart_turn/{engines}"] = await latency_runs(project, folder, calls, True, engines)
                if args.vad_only:
                    report[f"latency_vad_only/{engines}"] = await latency_runs(project, folder, calls, False, engines)
                await asyncio.to_thread(save)
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps({k: v for k, v in report.items() if k != "stt"} | {"stt": {k: v for k, v in stt.items()
                                                                                 if k != "transcripts"}}, indent=2))
    await asyncio.to_thread(save)


if __name__ == "__main__":
    asyncio.run(main())
