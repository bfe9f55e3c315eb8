"""When the caller's turn is over (the words-based judge) and how a lone word over the bot is heard.

The recognizer checks run real pocketsphinx on real espeak-ng speech sent through the phone line
(8 kHz μ-law, back to 16 kHz), as a call does.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
from pipecat.audio.vad.vad_analyzer import VADState

from bot.kernel.messages import Button
from connectors.voice.caller import line_audio
from connectors.voice.channel import measure_line_cmn, phone_line
from connectors.voice.endpoint import TurnJudge
from connectors.voice.lm import INTERRUPT_WORDS, Expect, Expectation, SpeechModel, barge_in_grammar
from connectors.voice.speech import default_normalizer

OPEN = Expectation()


def judge(expectation: Expectation = OPEN, confidence: float = 0.0) -> TurnJudge:
    return TurnJudge(lambda _text: confidence, 0.5, default_normalizer(), expectation)


@pytest.mark.parametrize(("expectation", "said", "whole"), [
    (Expectation(Expect.DIGITS, digits=4), "four five six seven", True),
    (Expectation(Expect.DIGITS, digits=4), "four five six", False),
    (Expectation(Expect.DIGITS), "oh two oh seven nine four six oh oh one one", True),  # a phone number
    (Expectation(Expect.DIGITS), "oh two oh seven", False),
    (Expectation(Expect.CODE, digits=4), "a one oh oh one", True),
    (Expectation(Expect.CODE, digits=4), "a one oh", False),
    (Expectation(Expect.YES_NO), "yes", True),
    (Expectation(Expect.YES_NO), "uh", False),
    (Expectation(Expect.DIGITS, digits=4), "agent", True),  # an escape word always ends the turn
])
def test_closed_answers_are_whole_when_they_have_the_asked_form(expectation: Expectation, said: str,
                                                                  whole: bool) -> None:
    assert judge(expectation).complete(said) is whole


def test_a_spoken_choice_is_whole_when_it_picks_a_button() -> None:
    choice = TurnJudge(None, 0.5, default_normalizer(), Expectation(Expect.CHOICE, ("Where is my order",)),
                       (Button("Where is my order", "/check_order_status"),))
    assert choice.complete("one")
    assert not choice.complete("well I")


def test_open_requests_are_whole_with_a_few_words_or_a_recognised_intent_and_no_dangling_word() -> None:
    assert judge(confidence=0.0).complete("I want to change my delivery address")
    assert judge(confidence=0.0).complete("do you deliver abroad")  # for the knowledge base: no intent
    assert not judge(confidence=0.9).complete("I want to change my")  # announces more
    assert not judge(confidence=0.9).complete("where is the")
    assert judge(confidence=0.9).complete("track order")  # short, but recognised
    assert not judge(confidence=0.2).complete("track order")  # short and unsure: wait
    assert not judge(confidence=0.9).complete("")


@pytest.fixture(scope="module")
def speech_model(tmp_path_factory: pytest.TempPathFactory) -> SpeechModel:
    from bot.infra.settings import DEMO_PROJECT
    from bot.project import load_project

    return SpeechModel.build(load_project(DEMO_PROJECT), folder=tmp_path_factory.mktemp("lm"))


def _line(text: str, *, voice: str = "en-us+f2", lead_secs: float = 0.5, tail_secs: float = 0.2) -> np.ndarray:
    wav = subprocess.run(["espeak-ng", "-v", voice, "-s", "140", "--stdout", text],
                         capture_output=True, check=True).stdout
    speech = line_audio(wav)
    loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > 300)
    speech = speech[: loud[-1] + 1]
    silence = np.zeros(int(lead_secs * 8000), np.int16), np.zeros(int(tail_secs * 8000), np.int16)
    return phone_line(np.concatenate([silence[0], speech, silence[1]]))


def _live(model: SpeechModel, audio: np.ndarray, *, cmn: str | None, jsgf: str | None = None) -> str:
    from pocketsphinx import Decoder

    decoder = Decoder(lm=str(model.arpa), dict=str(model.dictionary), loglevel="FATAL",
                      **({"cmninit": cmn} if cmn else {}))
    if jsgf is not None:
        decoder.add_jsgf_string("g", jsgf)
        decoder.activate_search("g")
    decoder.start_utt()
    for start in range(0, len(audio), 1600):  # 100 ms batches, as the call's live pass
        decoder.process_raw(audio[start:start + 1600].tobytes(), False, False)
    decoder.end_utt()
    hyp = decoder.hyp()
    return hyp.hypstr if hyp is not None else ""


def test_the_line_mean_lets_a_fresh_decoder_hear_the_first_utterance(speech_model: SpeechModel) -> None:
    """A call's first words, decoded live from the phone line's cepstral mean vs the model's default."""
    assert speech_model.cmn_init is not None and len(speech_model.cmn_init.split(",")) == 13
    assert measure_line_cmn(str(speech_model.arpa), str(speech_model.dictionary)) == speech_model.cmn_init
    phrases = ["where is my order", "I want to talk to an agent", "what are your opening hours",
               "I need to change my delivery address"]
    right = {"line": 0, "default": 0}
    for phrase in phrases:
        audio = _line(phrase)
        right["line"] += _live(speech_model, audio, cmn=speech_model.cmn_init) == phrase.lower()
        right["default"] += _live(speech_model, audio, cmn=None) == phrase.lower()
    assert right["line"] >= 3 and right["line"] > right["default"], right


def test_a_lone_word_over_the_bot_is_heard_as_a_command_or_a_backchannel(speech_model: SpeechModel) -> None:
    jsgf = barge_in_grammar(["mhm", "okay", "uh huh", "yeah"], speech_model.vocabulary)
    assert jsgf is not None and all(f" {w} " in jsgf or f"({w} " in jsgf for w in ("agent", "wait", "okay"))
    heard = {word: _live(speech_model, _line(word), cmn=speech_model.cmn_init, jsgf=jsgf).split()
             for word in ("agent", "operator", "okay", "yeah")}
    assert "agent" in heard["agent"] and "operator" in heard["operator"], heard
    assert not INTERRUPT_WORDS & set(heard["okay"] + heard["yeah"]), heard


def test_the_line_mean_is_cached_with_the_model(speech_model: SpeechModel) -> None:
    cached = Path(str(speech_model.arpa).replace(".arpa", ".cmn"))
    assert cached.read_text().strip() == speech_model.cmn_init


async def test_a_word_in_the_first_instant_of_a_call_reaches_the_speaking_state() -> None:
    """The call's VAD starts warm: "agent" said as the stream opens (no silence before it) is detected as speech."""
    from connectors.voice.config import VADConfig
    from connectors.voice.turns import vad_analyzer

    audio = _line("agent", lead_secs=0.0, tail_secs=1.0)  # 16 kHz, as the pipeline hears the line
    vad = vad_analyzer(VADConfig())
    vad.set_sample_rate(16000)
    chunk = 1600  # 100 ms, as the transport hands audio on
    states = [await vad.analyze_audio(audio[i:i + chunk].tobytes()) for i in range(0, len(audio) - chunk, chunk)]
    assert VADState.SPEAKING in states, states
    assert states[-1] == VADState.QUIET
