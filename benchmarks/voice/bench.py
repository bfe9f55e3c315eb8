"""Voice benchmarks on the demo bot: latency, STT word error rate, real-time factors, concurrent calls.

    python benchmarks/voice/bench.py [--calls 1,2,4] [--json out.json]

* latency: end of the simulated caller's speech → first bot audio on the line, over the suite below, with
  smart-turn on and off. VAD stop delay is 0.2 s (Silero ``stop_secs``) and is included.
* WER: the suite's utterances through the phone path (espeak-ng → 8 kHz μ-law → 16 kHz, with line silence
  around them), decoded as a call does (live, from the line's cepstral mean) with pocketsphinx's default
  en-US model, the project's domain LM, and the closed grammars where they apply.
* RTF: decoding CPU seconds / audio seconds (STT); synthesis wall seconds / audio seconds (espeak-ng).
* concurrency: N calls at once, each asking the suite's questions; p95 latency per N.

Server and callers run in this one process on loopback (the callers only pace and parse frames).
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


def wer(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word edits, reference words) by Levenshtein distance over words."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1], len(ref)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure_stt_and_tts(project: object) -> dict[str, object]:
    """WER and RTF the way a call decodes: the suite's utterances sent through the phone line (0.5 s of
    line silence before, 0.2 s after, μ-law, 16 kHz), decoded live in 100 ms batches by one decoder per
    recognizer (its running cepstral mean carried from utterance to utterance, as within a call);
    closed answers decoded whole with their grammar, as the call does."""
    from pocketsphinx import Decoder

    from connectors.voice.caller import synthesize, trim_trailing_silence
    from connectors.voice.channel import phone_line
    from connectors.voice.lm import Expect, Expectation, SpeechModel, grammar
    from connectors.voice.stt import trim_leading_silence

    model = SpeechModel.build(project, folder=Path(tempfile.mkdtemp()))  # type: ignore[arg-type]
    line_mean = {"cmninit": model.cmn_init} if model.cmn_init else {}
    domain = Decoder(lm=str(model.arpa), dict=str(model.dictionary), loglevel="FATAL", **line_mean)
    default = Decoder(loglevel="FATAL")
    forms = {"yes_no": Expectation(Expect.YES_NO), "pin": Expectation(Expect.DIGITS, digits=4),
             "code": Expectation(Expect.CODE, digits=4)}
    for name, form in forms.items():
        domain.add_jsgf_string(name, grammar(form, model.vocabulary) or "")

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

    totals = {"default": [0, 0], "domain_lm": [0, 0], "domain_lm+grammars": [0, 0]}
    cpu, audio_secs = 0.0, 0.0
    for text, form in SUITE:
        speech = trim_trailing_silence(await synthesize(text))
        pcm = phone_line(np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(1600, np.int16)]))
        audio_secs += len(pcm) / 16000
        reference = " ".join(text.lower().split())
        for label, decoder, search in (("default", default, None), ("domain_lm", domain, "_default"),
                                       ("domain_lm+grammars", domain, form or "_default")):
            started = time.thread_time()
            hyp = decode(decoder, search, pcm)
            if label == "domain_lm":
                cpu += time.thread_time() - started
            edits, words = wer(reference, hyp)
            totals[label][0] += edits
            totals[label][1] += words
    tts_wall, tts_audio = 0.0, 0.0
    text = " ".join(t for t, _ in SUITE)
    for _ in range(3):
        started = time.perf_counter()
        audio = await synthesize(text, voice="en-us", wpm=165)
        tts_wall += time.perf_counter() - started
        tts_audio += len(audio) / 8000
    return {"wer": {k: round(e / n, 3) for k, (e, n) in totals.items()},
            "stt_rtf_domain_lm": round(cpu / audio_secs, 4), "tts_rtf_espeak": round(tts_wall / tts_audio, 4)}


async def one_call(url: str, name: str, questions: list[str]) -> list[float]:
    from connectors.voice.caller import SimulatedCaller

    latencies = []
    async with SimulatedCaller.connect(url, conversation_id=name) as caller:
        for question in questions:
            await caller.say(question)
            try:
                # A long answer has pauses over a second (between messages): wait for real quiet before the next
                # question, or the caller talks over the end of the answer (a barge-in, not a new turn).
                reply = await caller.next_reply(within=30, gap=REPLY_QUIET_SECS)
            except TimeoutError:
                continue
            if reply.latency_ms is not None:
                latencies.append(reply.latency_ms)
    return latencies


async def latency_runs(project: object, settings_dir: str, calls: list[int], smart_turn: bool) -> dict[str, object]:
    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings
    from bot.testing.server import serve_app
    from connectors.web import create_app

    voice = project.config.voice  # type: ignore[attr-defined]
    turns = voice.turns.model_copy(update={"smart_turn": smart_turn})
    voice = voice.model_copy(update={"greeting": None, "turns": turns})
    config = project.config.model_copy(update={"voice": voice})  # type: ignore[attr-defined]
    patched = dataclasses.replace(project, config=config)  # type: ignore[type-var]
    runtime = await build_runtime(Settings(database_url=f"sqlite:///{settings_dir}/bench-{smart_turn}.db",
                                           admin_token="bench-admin-token", admin_token_generated=False), patched)
    out: dict[str, object] = {}
    async with serve_app(create_app(runtime)) as url:
        for n in calls:
            started = time.perf_counter()
            results = await asyncio.gather(*(one_call(url, f"bench-{smart_turn}-{n}-{i}", QUESTIONS)
                                             for i in range(n)))
            values = [v for r in results for v in r]
            out[str(n)] = {"calls": n, "replies": len(values), "expected": n * len(QUESTIONS),
                           "p50_ms": round(statistics.median(values)) if values else None,
                           "p95_ms": round(percentile(values, 0.95)) if values else None,
                           "wall_s": round(time.perf_counter() - started, 1)}
            print(f"smart_turn={smart_turn} calls={n}: {out[str(n)]}", flush=True)
    await runtime.close()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", default="1,2,4")
    parser.add_argument("--json", default=None)
    parser.add_argument("--vad-only", action="store_true", help="also run with smart-turn off (VAD stop ends turns)")
    args = parser.parse_args()
    from bot.infra.logs import configure_logging
    from bot.infra.settings import DEMO_PROJECT
    from bot.project import load_project
    from connectors.voice.logs import route_pipecat_logs

    configure_logging(level="warning")
    route_pipecat_logs("ERROR")
    project = load_project(DEMO_PROJECT)
    report: dict[str, object] = {"load_average_at_start": os.getloadavg(), "cpus": os.cpu_count(),
                                 "vad_stop_secs": project.config.voice.vad.stop_secs,
                                 "smart_turn_max_silence_secs": project.config.voice.turns.max_silence_secs}
    report.update(await measure_stt_and_tts(project))
    print({k: report[k] for k in ("wer", "stt_rtf_domain_lm", "tts_rtf_espeak")}, flush=True)
    calls = [int(c) for c in args.calls.split(",")]
    with tempfile.TemporaryDirectory() as folder:
        report["latency_smart_turn"] = await latency_runs(project, folder, calls, smart_turn=True)
        if args.vad_only:
            report["latency_vad_only"] = await latency_runs(project, folder, calls, smart_turn=False)
    report["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=2))
    if args.json:
        await asyncio.to_thread(Path(args.json).write_text, json.dumps(report, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
