"""Voice mode's word error rate, the metric that compares what was said with what the recognizer heard."""

from __future__ import annotations

import pytest

from bot.kernel.events import UserUttered
from evals.format import Case, TurnSpec
from evals.metrics import compute_metrics
from evals.observation import TurnObservation
from evals.results import CaseResult
from evals.voice import word_error_rate


@pytest.mark.parametrize(("said", "heard", "rate"), [
    ("are you a bot", "are you a bot", 0.0),
    ("Are you a bot?", "are you a bot", 0.0),
    ("are you a bot", "are you a boat", 0.25),
    ("thank you so much", "thank you", 0.5),
    ("agent", "agent please now", 2.0),
    ("", "", 0.0),
])
def test_word_error_rate_counts_substitutions_insertions_and_deletions(said: str, heard: str, rate: float) -> None:
    """WER is the word-level edit distance over the reference length, ignoring case and punctuation."""
    assert word_error_rate(said, heard) == pytest.approx(rate)


def test_word_error_rate_metric_covers_voice_turns_only() -> None:
    """The run's word_error_rate averages voice turns and leaves text turns out."""
    voice = TurnObservation(0, "are you a bot", "voice", [UserUttered(text="are you a boat", channel="voice")], [], 5)
    text = TurnObservation(1, "hello", "rest", [UserUttered(text="something else", channel="rest")], [], 5)
    result = CaseResult(Case("c", (TurnSpec("are you a bot"), TurnSpec("hello")), suite="s"), [voice, text])
    metrics = compute_metrics([result])
    assert metrics["values"]["word_error_rate"] == 0.25 and metrics["support"]["word_error_rate"] == 1
