"""The neural voice and the open-answer recognizer: piper pieces, cache and resampling; Whisper over the phone line;
a call whose caller speaks with piper, heard by Whisper for open questions and by the grammar for closed answers."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from bot.app.runtime import Runtime
from bot.kernel.events import Escalated, UserUttered
from bot.project.channels import STTConfig, TTSConfig
from connectors.voice.piper_tts import PiperVoiceModel, bundled_voice, piper_available, resample_pcm
from connectors.voice.whisper_stt import WhisperRecognizer, drop_repeats, whisper_available

needs_piper = pytest.mark.skipif(not piper_available(), reason="the neural-voice extra is not installed")
needs_whisper = pytest.mark.skipif(not whisper_available(), reason="the neural-voice extra is not installed")


def _tone(freq: float, rate: int, secs: float = 0.5) -> np.ndarray:
    return (0.5 * np.sin(2 * np.pi * freq * np.arange(int(rate * secs)) / rate)).astype(np.float32)


def _rms(pcm: bytes) -> float:
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float64)
    return float(np.sqrt(np.mean(samples**2)))


def test_resampling_to_the_line_keeps_speech_band_and_removes_what_would_alias() -> None:
    """22.05 kHz → 8 kHz: a 1 kHz tone keeps its level; a 5 kHz tone (above the line's 4 kHz) is filtered out
    instead of folding back as a 3 kHz alias."""
    kept = _rms(resample_pcm(_tone(1000, 22050), 22050, 8000))
    folded = _rms(resample_pcm(_tone(5000, 22050), 22050, 8000))
    assert kept > 0.3 * 32767 and folded < 0.01 * kept


def test_pieces_are_merged_where_the_next_would_not_be_ready_in_time() -> None:
    """A short first piece takes the long sentence after it along (its audio would end before the next piece is
    synthesized); a long first piece is followed by pieces of their own."""
    from connectors.voice.piper_tts import plan_pieces

    assert plan_pieces(["a" * 6, "b" * 40]) == ["a" * 6 + " " + "b" * 40]
    assert plan_pieces(["a" * 40, "b" * 30, "c" * 60], ratio=0.5) == ["a" * 40, "b" * 30, "c" * 60]
    assert plan_pieces(["a" * 20, "b" * 38, "c" * 80], ratio=0.5) == ["a" * 20, "b" * 38 + " " + "c" * 80]


def test_decoder_loops_are_cut_and_real_repeats_kept() -> None:
    """A phrase repeated three times or more in a row is kept once; "no no" is left alone."""
    assert drop_repeats("4 5 6 7 4 5 6 7 4 5 6 7 4 5") == "4 5 6 7 4 5"
    assert drop_repeats("Yes. Yes. Yes. Yes.") == "Yes."
    assert drop_repeats("no no I said the order") == "no no I said the order"


@needs_piper
def test_piper_speaks_by_piece_and_replays_from_its_cache() -> None:
    """A first sentence with a long first clause is cut there, a short one ("Sorry,") is not, later sentences
    stay whole; a piece said again comes from the cache, byte for byte; 8 kHz audio lasts as long as the words."""
    voice = PiperVoiceModel(bundled_voice(), out_rate=8000)  # its own cache: no other test or thread touches it
    pieces = voice.pieces("Our stores are open from nine to six, Monday to Saturday. Thanks.")
    assert len(pieces) == 3 and pieces[0].rstrip().endswith(",")
    assert len(voice.pieces("Sorry, I need an email address or a phone number.")) == 1
    hits = voice.cache_hits
    first = voice.synthesize(pieces[-1])
    again = voice.synthesize(pieces[-1])
    assert again == first and voice.cache_hits == hits + 1
    seconds = len(voice.speak_all("Where is my order?")) / 2 / 8000
    assert 0.6 < seconds < 3.0


@needs_piper
@needs_whisper
def test_whisper_hears_piper_over_the_phone_line() -> None:
    """A piper sentence sent through the μ-law line is transcribed word for word by the shipped Whisper setup."""
    from connectors.voice.channel import phone_line
    from connectors.voice.lm import words

    voice = PiperVoiceModel.load(TTSConfig(), out_rate=8000)
    speech = np.frombuffer(voice.speak_all("I need to change my delivery address"), dtype=np.int16)
    line = phone_line(np.concatenate([np.zeros(4000, np.int16), speech, np.zeros(1600, np.int16)]))
    heard = WhisperRecognizer.load(STTConfig()).transcribe(line.tobytes())
    assert words(heard) == ["i", "need", "to", "change", "my", "delivery", "address"], heard


@needs_piper
@needs_whisper
async def test_a_piper_caller_is_heard_by_the_grammar_for_codes_and_by_whisper_for_requests(runtime: Runtime) -> None:
    """With the shipped settings a call speaks piper; the spoken order number goes to the closed grammar (Whisper
    hears nothing of it), the open request "I want to talk to an agent" to Whisper, and it hands the call off."""
    from bot.testing.server import serve_app
    from connectors.voice.caller import SimulatedCaller
    from connectors.voice.pipeline import VoiceModels
    from connectors.voice.routes import VOICE
    from connectors.web import create_app

    app = create_app(runtime)
    async with serve_app(app) as url:
        async with SimulatedCaller.connect(url, call_sid="CApiper", voice="piper") as caller:
            await caller.wait_for_speech(within=20)
            models = app[VOICE].models
            assert isinstance(models, VoiceModels) and models.piper is not None and models.whisper is not None
            await caller.press("1")
            await caller.next_reply(within=30)
            await caller.press("02079460011#")
            await caller.next_reply(within=30)
            await caller.press("4567#")
            await caller.next_reply(within=30)
            heard_before = models.whisper.stats.utterances
            await caller.say("A one oh oh one")
            await caller.next_reply(within=30)
            assert models.whisper.stats.utterances == heard_before
            await caller.say("I want to talk to an agent")
            await caller.next_reply(within=30)
            assert models.whisper.stats.utterances == heard_before + 1
        state = await runtime.engine.state("voice-CApiper")
    said = [e for e in state.events if isinstance(e, UserUttered) and e.metadata.get("source") == "speech"]
    assert re.fullmatch(r"[A-Z]\d{4}", said[0].text), said[0].text
    assert "agent" in said[-1].metadata["transcript"].lower()
    assert any(isinstance(e, Escalated) for e in state.events)


async def test_without_the_neural_voice_extra_calls_fall_back_to_espeak_and_pocketsphinx(
        runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """With piper and Whisper missing, the shipped settings still load: espeak-ng speaks and pocketsphinx hears every
    turn (no whole-turn recognizer)."""
    import asyncio

    from connectors.voice import pipeline
    from connectors.voice.tts import EspeakTTS

    monkeypatch.setattr(pipeline, "piper_available", lambda model=None: False)
    monkeypatch.setattr(pipeline, "whisper_available", lambda model=None: False)
    models = await asyncio.to_thread(pipeline.VoiceModels.load, runtime)
    assert models.piper is None and models.whisper is None
    config = runtime.project.config.voice
    assert (config.tts.engine, config.stt.open_answers) == ("piper", "whisper")
    assert isinstance(pipeline.make_tts(config.tts, models), EspeakTTS)
    stt = pipeline.make_stt(config.stt, models)
    assert stt._open_recognizer is None and stt._grammar_recognizer is None  # type: ignore[attr-defined]


@needs_piper
def test_pieces_kept_on_disk_are_read_by_a_restarted_voice_instead_of_synthesized(tmp_path: Path) -> None:
    """A second process (here: a second voice object on the same folder) plays the fixed prompt the first one
    warmed, byte for byte, without synthesizing; another speaking rate is another piece; a live reply (it may
    carry a customer's details) is never written to disk."""
    first = PiperVoiceModel(bundled_voice(), out_rate=8000)
    first.keep_on_disk(tmp_path)
    first.synthesize(first.pieces("Your order A1002 goes to 10 Downing Street.")[0])
    assert not list(tmp_path.glob("*.pcm"))
    assert first.warm(["Thanks for calling Northwind."]) == 1
    piece = first.pieces("Thanks for calling Northwind.")[0]
    audio = first.synthesize(piece)
    assert first.cache_misses == 2 and len(list(tmp_path.glob("*.pcm"))) == 1
    again = PiperVoiceModel(bundled_voice(), out_rate=8000)
    again.keep_on_disk(tmp_path)
    assert again.synthesize(piece) == audio
    assert again.cache_misses == 0
    slower = PiperVoiceModel(bundled_voice(), out_rate=8000, length_scale=1.3)
    slower.keep_on_disk(tmp_path)
    assert slower.synthesize(piece) != audio and slower.cache_misses == 1
    assert len(list(tmp_path.glob("*.pcm"))) == 1
