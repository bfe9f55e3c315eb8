"""Intent-classification evaluation as data: read a labelled CSV, score a classifier, report metrics.

The report follows the CLINC150 paper's definitions: *in-scope accuracy* is accuracy over the
examples whose gold label is not the out-of-scope label; *OOS recall* is the share of gold
out-of-scope examples predicted out of scope. Latency is per single message (one turn), p50.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from bot.errors import ConfigError, ConfigProblem


@dataclass(frozen=True, slots=True)
class LabelledData:
    """Texts with their gold labels."""

    texts: list[str]
    labels: list[str]


def read_csv(path: Path) -> LabelledData:
    """A CSV with a header row: first column text, second column label."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ConfigError([ConfigProblem(path, None, None, f"cannot read CSV: {exc.strerror}")]) from exc
    body = rows[1:]
    bad = next((i for i, r in enumerate(body, start=2) if len(r) < 2 or not r[0].strip()), None)
    if bad is not None:
        raise ConfigError([ConfigProblem(path, bad, None, "each row needs a text and a label")])
    if not body:
        raise ConfigError([ConfigProblem(path, None, None, "no rows after the header")])
    return LabelledData([r[0] for r in body], [r[1].strip() for r in body])


def split_holdout(data: LabelledData, fraction: float, seed: int = 0) -> tuple[LabelledData, LabelledData]:
    """Stratified split: ``fraction`` of each label goes to the second part."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[int]] = {}
    for index, label in enumerate(data.labels):
        by_label.setdefault(label, []).append(index)
    held: set[int] = set()
    for indices in by_label.values():
        count = max(1, round(len(indices) * fraction)) if len(indices) > 1 else 0
        held.update(rng.permutation(indices)[:count].tolist())
    keep = [i for i in range(len(data.texts)) if i not in held]
    out = sorted(held)
    return (LabelledData([data.texts[i] for i in keep], [data.labels[i] for i in keep]),
            LabelledData([data.texts[i] for i in out], [data.labels[i] for i in out]))


@dataclass(frozen=True, slots=True)
class Report:
    """Metrics of one evaluation run (fractions in 0..1, latency in milliseconds)."""

    examples: int
    accuracy: float
    in_scope_accuracy: float
    oos_precision: float | None
    oos_recall: float | None
    macro_f1: float
    p50_ms: float
    p95_ms: float
    threshold: float

    def to_dict(self) -> dict[str, float | int | None]:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def score(gold: Sequence[str], predicted: Sequence[str], oos_label: str | None) -> dict[str, float | None]:
    """Accuracy, in-scope accuracy, OOS precision/recall and macro-F1 over the gold labels."""
    from sklearn.metrics import f1_score

    pairs = list(zip(gold, predicted, strict=True))
    accuracy = sum(g == p for g, p in pairs) / len(pairs)
    in_scope = [(g, p) for g, p in pairs if g != oos_label]
    in_scope_accuracy = sum(g == p for g, p in in_scope) / len(in_scope) if in_scope else 0.0
    oos_precision = oos_recall = None
    if oos_label is not None and any(g == oos_label for g in gold):
        predicted_oos = [g for g, p in pairs if p == oos_label]
        gold_oos = [p for g, p in pairs if g == oos_label]
        oos_precision = sum(g == oos_label for g in predicted_oos) / len(predicted_oos) if predicted_oos else 0.0
        oos_recall = sum(p == oos_label for p in gold_oos) / len(gold_oos)
    labels = sorted(set(gold))
    macro_f1 = float(f1_score(list(gold), list(predicted), labels=labels, average="macro", zero_division=0))
    return {"accuracy": accuracy, "in_scope_accuracy": in_scope_accuracy, "oos_precision": oos_precision,
            "oos_recall": oos_recall, "macro_f1": macro_f1}


def decide(ranked: Sequence[Sequence[tuple[str, float]]], threshold: float, oos_label: str) -> list[str]:
    """Top label per row, or ``oos_label`` when its confidence is below ``threshold``."""
    return [row[0][0] if row and row[0][1] >= threshold else oos_label for row in ranked]


def threshold_for_recall(ranked: Sequence[Sequence[tuple[str, float]]], gold: Sequence[str], oos_label: str,
                         *, target_recall: float) -> float:
    """The out-of-scope threshold for a required out-of-scope recall, chosen on training data only.

    ``ranked`` are out-of-fold predictions over the training set (:func:`bot.nlu.training.out_of_fold_ranking`),
    so every out-of-scope training example is scored by a model that never saw it. The answer is the lowest
    threshold (in steps of 0.005) whose out-of-scope recall reaches ``target_recall``: the most in-scope
    accuracy that recall allows. When no threshold reaches it, the one with the highest recall.
    """
    rows = [row for row, g in zip(ranked, gold, strict=True) if g == oos_label]
    if not rows:
        raise ValueError(f"no {oos_label!r} examples to tune the out-of-scope threshold on")
    # Recall only counts the out-of-scope rows: each is caught when its top label is out of scope or its
    # top confidence is below the threshold (:func:`decide`), so recall never falls as the threshold rises.
    caught = np.array([bool(row) and row[0][0] == oos_label for row in rows])
    confidence = np.array([row[0][1] if row else 0.0 for row in rows])
    best, best_recall = 0.0, -1.0
    for threshold in (round(float(t), 3) for t in np.arange(0.0, 1.0, 0.005)):
        recall = float(np.mean(caught | (confidence < threshold)))
        if recall >= target_recall - 1e-9:
            return threshold
        if recall > best_recall:
            best, best_recall = threshold, recall
    return best


def measure_latency(predict_one: Callable[[str], object], texts: Sequence[str], runs: int = 200) -> list[float]:
    """Milliseconds per single-message call over up to ``runs`` texts (after a short warm-up)."""
    sample = list(texts[:runs]) or ["hello"]
    for text in sample[:10]:
        predict_one(text)
    timings = []
    for text in sample:
        started = time.perf_counter()
        predict_one(text)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def build_report(gold: Sequence[str], predicted: Sequence[str], oos_label: str | None, timings: Sequence[float],
                 threshold: float) -> Report:
    """Assemble the :class:`Report` of one run."""
    metrics = score(gold, predicted, oos_label)
    p50, p95 = latency_percentiles(timings)
    return Report(len(gold), metrics["accuracy"] or 0.0, metrics["in_scope_accuracy"] or 0.0,
                  metrics["oos_precision"], metrics["oos_recall"], metrics["macro_f1"] or 0.0,
                  p50, p95, threshold)


def latency_percentiles(timings: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) of ``timings``."""
    ordered = sorted(timings)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
