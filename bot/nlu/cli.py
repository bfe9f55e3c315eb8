"""``careline eval nlu``: train an intent classifier on one CSV and report on another."""

from __future__ import annotations

import json
from pathlib import Path

import click

from evals.dataset_report import report_option, write_report


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
    import sys

    from bot.logs import configure_logging
    from bot.nlu.evaluation import read_csv
    from bot.nlu.training import evaluate_intents

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
