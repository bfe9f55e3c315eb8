"""Retrieval evaluation as data: query cases in, recall@1/@5, MRR@5 and latency out; and threshold calibration.

A query file is JSON lines: ``{"query": str, "context": [str, ...] (optional), "relevant": [doc id, ...]}``.
A case with an empty ``relevant`` list is unanswerable: it is left out of recall and used for calibration.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.kernel.errors import ConfigError, ConfigProblem
from bot.knowledge.types import RetrievedChunk


class Searcher(Protocol):
    async def search(self, query: str, *, top_k: int | None = None, context: Sequence[str] = ()) -> list[
        RetrievedChunk]: ...


@dataclass(frozen=True, slots=True)
class QueryCase:
    """One evaluation query."""

    query: str
    relevant: tuple[str, ...]
    context: tuple[str, ...] = ()


@dataclass(slots=True)
class RetrievalReport:
    """Scores over the answerable cases (those with relevant documents)."""

    queries: int
    recall_at_1: float
    recall_at_5: float
    mrr_at_5: float
    latency_p50_ms: float
    latency_p95_ms: float
    top_k: int
    misses: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["misses"] = self.misses[:20]
        return data


def read_queries(path: Path) -> list[QueryCase]:
    """Query cases from a JSON-lines file; a malformed line is a ConfigError naming its line."""
    cases: list[QueryCase] = []
    problems: list[ConfigProblem] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(QueryCase(str(row["query"]), tuple(str(d) for d in row.get("relevant", [])),
                                   tuple(str(t) for t in row.get("context", []))))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            problems.append(ConfigProblem(path, number, "query", f"not a query line: {exc}"))
    if problems:
        raise ConfigError(problems)
    return cases


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 2) if values else 0.0


async def evaluate_retrieval(searcher: Searcher, cases: Sequence[QueryCase], *, top_k: int = 5,
                             use_context: bool = True) -> RetrievalReport:
    """Run every answerable case through ``searcher`` and score the ranking by document id."""
    hits1 = hits5 = 0
    reciprocal = 0.0
    latencies: list[float] = []
    misses: list[dict[str, Any]] = []
    answerable = [c for c in cases if c.relevant]
    for case in answerable:
        started = time.perf_counter()
        found = await searcher.search(case.query, top_k=max(top_k, 5), context=case.context if use_context else ())
        latencies.append(time.perf_counter() - started)
        ranked: list[str] = []
        for chunk in found:
            if chunk.doc_id not in ranked:
                ranked.append(chunk.doc_id)
        rank = next((i for i, doc in enumerate(ranked[:5], start=1) if doc in case.relevant), None)
        hits1 += rank == 1
        hits5 += rank is not None
        reciprocal += 1 / rank if rank else 0.0
        if rank != 1:
            misses.append({"query": case.query, "relevant": list(case.relevant), "got": ranked[:3]})
    n = max(len(answerable), 1)
    return RetrievalReport(len(answerable), round(hits1 / n, 4), round(hits5 / n, 4), round(reciprocal / n, 4),
                           _percentile(latencies, 50), _percentile(latencies, 95), top_k, misses)


@dataclass(slots=True)
class Calibration:
    """The "don't know" threshold chosen on answerable vs unanswerable questions."""

    threshold: float
    balanced_accuracy: float
    answered_rate_answerable: float
    """Share of answerable questions answered at the threshold."""
    refused_rate_unanswerable: float
    """Share of unanswerable questions refused at the threshold."""
    correct_doc_when_answered: float
    """Share of answered answerable questions whose most similar chunk is from a relevant document."""
    answerable_scores: list[float]
    unanswerable_scores: list[float]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("answerable_scores", "unanswerable_scores"):
            values = np.asarray(data[key])
            data[key] = {"min": round(float(values.min()), 3), "median": round(float(np.median(values)), 3),
                         "max": round(float(values.max()), 3)} if len(values) else {}
        return data


async def calibrate(searcher: Searcher, answerable: Sequence[QueryCase], unanswerable: Sequence[QueryCase]
                    ) -> Calibration:
    """Pick the threshold on the best retrieved similarity that maximizes balanced accuracy (ties: the lower one)."""
    top_scores: list[float] = []
    correct: list[bool] = []
    for case in answerable:
        found = await searcher.search(case.query, context=case.context)
        nearest = max(found, key=lambda c: c.similarity) if found else None
        top_scores.append(nearest.similarity if nearest else -1.0)
        correct.append(nearest is not None and nearest.doc_id in case.relevant)
    negatives = []
    for case in unanswerable:
        found = await searcher.search(case.query, context=case.context)
        negatives.append(max((c.similarity for c in found), default=-1.0))
    pos, neg = np.asarray(top_scores), np.asarray(negatives)
    best = (-1.0, 0.0)
    for threshold in np.arange(0.20, 0.80, 0.01):
        accuracy = ((pos >= threshold).mean() + (neg < threshold).mean()) / 2
        if accuracy > best[0] + 1e-9:
            best = (float(accuracy), float(threshold))
    threshold = round(best[1], 2)
    answered = pos >= threshold
    right = np.asarray(correct)[answered]
    return Calibration(threshold, round(best[0], 4), round(float(answered.mean()), 4),
                       round(float((neg < threshold).mean()), 4),
                       round(float(right.mean()) if len(right) else 0.0, 4),
                       [round(float(s), 4) for s in pos], [round(float(s), 4) for s in neg])
