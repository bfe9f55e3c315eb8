"""``careline eval nlu|kb|guard``: the dataset evaluations (a labelled dataset in, metrics out).

Each command scores one part of the core on data: the intent classifier (:mod:`evals.nlu`), the knowledge
retriever (:mod:`evals.knowledge`) and one guardrail detector (:func:`evaluate_detector`). ``--report DIR``
writes the shared report (:mod:`evals.dataset_report`). The commands are mounted under ``careline eval`` by
:mod:`evals.cli`.
"""

from __future__ import annotations

import asyncio
import csv
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from bot.infra.settings import Settings
from bot.kernel.errors import ConfigError
from evals.dataset_report import report_option, write_report

project_option = click.option("--project", type=click.Path(path_type=Path), default=None,
                              help="Project directory (default: the bundled demo).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.command("nlu")
@click.option("--train", "train_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Training CSV (header row; text, label).")
@click.option("--test", "test_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Test CSV (header row; text, label).")
@click.option("--oos-label", default=None, help="Label meaning out of scope (e.g. oos); enables the OOS metrics.")
@click.option("--finetune-epochs", default=0, show_default=True, type=int,
              help="Fine-tune the encoder this many epochs before fitting the classifier (0: frozen encoder).")
@click.option("--encoder", type=click.Choice(["onnx", "torch", "both"]), default="both", show_default=True,
              help="Serve through the int8 ONNX export, sentence-transformers, or report both.")
@click.option("--threshold", default=None, type=float,
              help="Out-of-scope confidence threshold (default: the lowest whose out-of-fold OOS recall on TRAIN "
                   "reaches --oos-recall-target, when --oos-label is set).")
@click.option("--oos-recall-target", default=0.7, show_default=True, type=click.FloatRange(0, 1),
              help="Out-of-scope recall the tuned threshold aims for (on 5-fold out-of-fold predictions over TRAIN).")
@click.option("--lexical-weight", default=0.3, show_default=True, type=click.FloatRange(0, 1),
              help="Share of the TF-IDF model in the probabilities (a project's nlu.lexical_weight; 0.3 suits "
                   "large intent sets like these datasets, 0 is the embedding model alone).")
@click.option("--cache", "cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where fine-tuned encoders and ONNX exports are kept (default: the user cache).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@report_option
def eval_nlu(train_path: Path, test_path: Path, oos_label: str | None, finetune_epochs: int, encoder: str,
             threshold: float | None, oos_recall_target: float, lexical_weight: float, cache: Path | None,
             as_json: bool, report_dir: Path | None) -> None:
    """Train on TRAIN, report accuracy, in-scope accuracy, OOS precision/recall, macro-F1 and p50 latency on TEST."""
    from bot.infra.logs import configure_logging
    from evals.nlu import evaluate_intents, read_csv

    configure_logging(level="warning", stream=sys.stderr)  # stdout carries the report only
    if oos_label is not None and threshold is None and finetune_epochs > 0:
        raise click.UsageError("--finetune-epochs with --oos-label needs an explicit --threshold (the threshold is "
                               "tuned on TRAIN, which the fine-tuned encoder has already seen)")

    reports = evaluate_intents(read_csv(train_path), read_csv(test_path), oos_label=oos_label,
                               finetune_epochs=finetune_epochs, encoders=("onnx", "torch") if encoder == "both"
                               else (encoder,), threshold=threshold, cache=cache, lexical_weight=lexical_weight,
                               oos_recall_target=oos_recall_target)
    data: dict[str, object] = {name: report.to_dict() for name, report in reports.items()}
    if len(reports) == 2:
        data["onnx_accuracy_delta"] = round(reports["onnx"].accuracy - reports["torch"].accuracy, 4)
    if report_dir is not None:
        write_report(report_dir, "nlu", data)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for name, report in reports.items():
        values = report.to_dict()
        click.echo(f"[{name}] " + "  ".join(f"{k}={v}" for k, v in values.items()))
    if "onnx_accuracy_delta" in data:
        click.echo(f"onnx accuracy delta: {data['onnx_accuracy_delta']:+.4f}")


@click.command("kb")
@click.option("--docs", "docs", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of documents (a doc id is the path relative to it, without extension).")
@click.option("--queries", "queries", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON lines: {"query", "context" (optional), "relevant": [doc id]}.')
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--no-context", is_flag=True, help="Ignore the queries' conversation context (for comparison).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
@report_option
def eval_kb(docs: Path, queries: Path, top_k: int, no_context: bool, as_json: bool, report_dir: Path | None) -> None:
    """Ingest DOCS into a fresh index and print recall@1, recall@5, MRR@5 and latency for QUERIES."""
    from bot.infra.embeddings import shared_embedder
    from bot.knowledge import KnowledgeBase, KnowledgeConfig
    from evals.knowledge import evaluate_retrieval, read_queries

    try:
        cases = read_queries(queries)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    with tempfile.TemporaryDirectory(prefix="careline-eval-kb-") as folder:
        knowledge = KnowledgeBase.open(docs, KnowledgeConfig(top_k=max(top_k, 5)), embedder=shared_embedder(),
                                       index_dir=Path(folder), knowledge_dir=docs)
        report = asyncio.run(evaluate_retrieval(knowledge, cases, top_k=top_k, use_context=not no_context))
    data = report.to_dict()
    data.update(documents=knowledge.report.documents, vectors=knowledge.report.vectors,
                skipped=len(knowledge.report.skipped), build_seconds=round(knowledge.report.seconds, 2))
    if report_dir is not None:
        write_report(report_dir, "kb", data)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"queries {report.queries}  recall@1 {report.recall_at_1:.3f}  recall@5 {report.recall_at_5:.3f}  "
               f"MRR@5 {report.mrr_at_5:.3f}  latency p50 {report.latency_p50_ms:.1f} ms  "
               f"p95 {report.latency_p95_ms:.1f} ms")


def read_labelled_csv(path: Path) -> list[tuple[str, int]]:
    """``text,label`` rows (header row first; label 1 = should fire, 0 = should not)."""
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or not {"text", "label"} <= set(reader.fieldnames):
            raise click.BadParameter(f"{path}: the header row must name the columns 'text' and 'label'",
                                     param_hint="--data")
        rows = []
        for line, row in enumerate(reader, start=2):
            if row["label"] not in ("0", "1"):
                raise click.BadParameter(f"{path}:{line}: label must be 0 or 1, got {row['label']!r}",
                                         param_hint="--data")
            rows.append((row["text"], int(row["label"])))
    return rows


async def evaluate_detector(detector: Any, fires: Callable[[list[Any]], bool], rows: list[tuple[str, int]]
                            ) -> dict[str, Any]:
    """Precision, recall, F1 and per-message latency of ``detector`` on labelled ``rows``."""
    from bot.kernel.conversation import ConversationState

    await detector.detect("warm up", ConversationState("eval"), "rest")
    tp = fp = fn = tn = 0
    latencies = []
    for index, (text, label) in enumerate(rows):
        started = time.perf_counter()
        signals = await detector.detect(text, ConversationState(f"eval-{index}"), "rest")
        latencies.append((time.perf_counter() - started) * 1000)
        predicted = fires(signals)
        tp += predicted and label == 1
        fp += predicted and label == 0
        fn += (not predicted) and label == 1
        tn += (not predicted) and label == 0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    ordered = sorted(latencies)
    return {
        "detector": detector.name, "examples": len(rows), "precision": round(precision, 4),
        "recall": round(recall, 4), "f1": round(f1, 4), "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "latency_ms": {"mean": round(statistics.fmean(latencies), 2) if latencies else 0.0,
                       "p50": round(ordered[len(ordered) // 2], 2) if ordered else 0.0,
                       "p95": round(ordered[int(len(ordered) * 0.95)], 2) if ordered else 0.0},
    }


@click.command("guard")
@project_option
@click.option("--detector", "name", required=True, help="Detector name (emotion, regulated_topic, complexity, "
              "prompt_injection, other_customer_data, pii, human_request).")
@click.option("--data", "data", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV with a header row and the columns text,label.")
@json_option
@report_option
def eval_guard(project: Path | None, name: str, data: Path, as_json: bool, report_dir: Path | None) -> None:
    """Precision, recall, F1 and latency of one detector ("fires" = a signal the policy acts on)."""
    from bot.guardrails.policy import lowest_threshold
    from bot.guardrails.wiring import build_detectors, build_policy
    from bot.infra.embeddings import shared_embedder
    from bot.project import load_project

    rows = read_labelled_csv(data)
    settings = Settings.from_env(project=project)
    try:
        loaded = load_project(settings.project)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    detectors = {d.name: d for d in build_detectors(loaded, shared_embedder())}
    if name not in detectors:
        raise click.BadParameter(f"no detector {name!r}; expected one of {sorted(detectors)}", param_hint="--detector")
    policy = build_policy(loaded)

    def fires(signals: list[Any]) -> bool:
        for signal in signals:
            rule = policy.rule(signal.category)
            threshold = lowest_threshold(rule) if rule is not None else 0.0
            if threshold is not None and signal.score >= threshold:
                return True
        return False

    result = asyncio.run(evaluate_detector(detectors[name], fires, rows))
    if report_dir is not None:
        write_report(report_dir, f"guard-{name}", result)
    if as_json:
        click.echo(json.dumps(result))
        return
    click.echo(f"{result['detector']}: precision {result['precision']:.3f}  recall {result['recall']:.3f}  "
               f"F1 {result['f1']:.3f}  on {result['examples']} examples; latency mean "
               f"{result['latency_ms']['mean']} ms, p95 {result['latency_ms']['p95']} ms")
    sys.stdout.flush()
