"""The intent-classification dataset evaluation (:mod:`evals.nlu`) and ``careline eval nlu``."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.infra.embeddings import Embedder
from bot.nlu.embedding_classifier import EmbeddingIntentClassifier
from evals.datasets import eval_nlu
from evals.nlu import LabelledData, decide, out_of_fold_ranking, score, threshold_for_recall


def test_threshold_for_recall_is_the_lowest_that_reaches_the_target() -> None:
    """The chosen threshold is the lowest reaching the required OOS recall, so confident in-scope rows survive."""
    ranked = [[("a", 0.9)], [("b", 0.5)], [("a", 0.3)], [("b", 0.45)], [("a", 0.7)]]
    gold = ["a", "b", "oos", "oos", "oos"]
    half = threshold_for_recall(ranked, gold, "oos", target_recall=0.5)
    assert 0.45 < half <= 0.5  # two of three OOS rows rejected (0.67 recall) and "b" at 0.5 still in scope
    assert score(gold, decide(ranked, half, "oos"), "oos")["in_scope_accuracy"] == 1.0
    everything = threshold_for_recall(ranked, gold, "oos", target_recall=1.0)
    assert 0.7 < everything <= 0.9  # all OOS rejected costs the "b" row
    assert score(gold, decide(ranked, everything, "oos"), "oos")["in_scope_accuracy"] == 0.5


def _write(path: Path, rows: list[tuple[str, str]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return path


def test_eval_nlu_command_reports_the_metrics(tmp_path: Path, embedder: Embedder) -> None:
    """``careline eval nlu`` trains on TRAIN and reports accuracy, OOS metrics, macro-F1 and latency as JSON."""
    train = [(t, "order") for t in ("where is my order", "track my parcel", "has my package shipped",
                                    "when will my delivery arrive", "order status please", "is my order late")]
    train += [(t, "appointment") for t in ("book an appointment", "move my appointment", "cancel my visit",
                                           "when is my clinic appointment", "reschedule my booking",
                                           "confirm my appointment")]
    train += [(t, "oos") for t in ("what is the capital of peru", "tell me a joke about cats")]
    test = [("where's my parcel", "order"), ("can I change my appointment", "appointment"),
            ("how tall is mount everest", "oos")]
    result = CliRunner().invoke(eval_nlu, ["--train", str(_write(tmp_path / "train.csv", train)),
                                           "--test", str(_write(tmp_path / "test.csv", test)),
                                           "--oos-label", "oos", "--encoder", "torch", "--threshold", "0.4",
                                           "--cache", str(tmp_path / "cache"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{\n"):])["torch"]  # log lines may precede the JSON
    assert set(report) >= {"accuracy", "in_scope_accuracy", "oos_precision", "oos_recall", "macro_f1", "p50_ms"}
    assert report["examples"] == 3 and report["in_scope_accuracy"] == 1.0 and report["p50_ms"] > 0


def test_eval_nlu_refuses_to_tune_the_oos_threshold_on_data_the_encoder_was_fine_tuned_on(tmp_path: Path) -> None:
    """Fine-tuning with an OOS label and no explicit threshold is a usage error (exit 2) naming the fix."""
    rows = [("where is my order", "order"), ("tell me a joke", "oos")]
    result = CliRunner().invoke(eval_nlu, ["--train", str(_write(tmp_path / "train.csv", rows)),
                                           "--test", str(_write(tmp_path / "test.csv", rows)),
                                           "--oos-label", "oos", "--finetune-epochs", "1",
                                           "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2
    assert "--threshold" in result.output
    assert not (tmp_path / "cache").exists()


class _MemorizingEncoder:
    """One one-hot vector per distinct text: a classifier can only memorize, never generalize."""

    def __init__(self, texts: list[str]) -> None:
        self.index = {t: i for i, t in enumerate(texts)}
        self.dimension = len(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), len(self.index)), dtype=np.float32)
        out[np.arange(len(texts)), [self.index[t] for t in texts]] = 1.0
        return out


def test_out_of_fold_ranking_scores_each_example_with_a_model_that_never_saw_it() -> None:
    """A memorizing model is sure of its training rows but only at chance on out-of-fold rows."""
    texts = [f"row {i}" for i in range(40)]
    labels = ["a", "b"] * 20
    encoder = _MemorizingEncoder(texts)
    data = LabelledData(texts, labels)
    ranked = out_of_fold_ranking(encoder, data, lexical_weight=0.0)
    gold_confidence = [dict(r)[g] for r, g in zip(ranked, labels, strict=True)]
    assert max(gold_confidence) < 0.6
    seen = EmbeddingIntentClassifier.train(encoder, texts, labels, lexical_weight=0.0)
    assert min(dict(r)[g] for r, g in zip(seen.predict(texts), labels, strict=True)) > 0.8
    with pytest.raises(ValueError, match="at least 2 examples"):
        out_of_fold_ranking(encoder, LabelledData(texts[:3], ["a", "a", "b"]), lexical_weight=0.0)
