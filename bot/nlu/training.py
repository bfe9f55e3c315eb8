"""Train the intent classifier (optionally fine-tuning the encoder) and pick its serving encoder.

Shared by the runtime (a project's NLU data) and the evaluation command (a dataset CSV), so what is
measured is what is served.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from bot import environment
from bot.errors import ConfigError
from bot.logs import get_logger
from bot.nlu.base import Encoder
from bot.nlu.embedding_classifier import LEXICAL_WEIGHT, EmbeddingIntentClassifier, rank
from bot.nlu.evaluation import (
    LabelledData,
    Report,
    build_report,
    decide,
    measure_latency,
    threshold_for_recall,
)
from bot.nlu.finetune import FinetuneConfig, finetune_encoder

log = get_logger(__name__)

OOS_RECALL_TARGET = 0.70
"""Out-of-scope recall the threshold is chosen for, on out-of-fold predictions over train: the 66 %
CLINC150 asks for plus a margin, because the final model (trained on all of train) is more confident
than the fold models the threshold is read from. Everything above it goes to in-scope accuracy."""

OOS_FOLDS = 5
"""Folds of the out-of-fold predictions (every out-of-scope training example is scored once)."""


def default_cache() -> Path:
    """``CARELINE_CACHE_DIR/nlu-eval`` or ``~/.cache/careline/nlu-eval`` (:mod:`bot.environment`)."""
    path = (environment.cache_override() or Path.home() / ".cache" / "careline") / "nlu-eval"
    path.mkdir(parents=True, exist_ok=True)
    return path


def onnx_encoder_for(model_dir: Path, cache: Path) -> Encoder | None:
    """The int8 ONNX encoder for ``model_dir`` (exported once), or ``None`` when export fails."""
    from bot.nlu.onnx_encoder import OnnxEncoder, export_onnx

    try:
        path = export_onnx(model_dir, cache / "onnx")
        return OnnxEncoder(path, model_dir)
    except (ConfigError, ImportError, OSError, RuntimeError) as exc:
        log.warning("onnx_encoder_unavailable", error=str(exc), fallback="sentence-transformers")
        return None


def _single(classifier: EmbeddingIntentClassifier) -> Callable[[str], object]:
    """One message at a time, as a turn sees it."""
    return lambda text: classifier.predict([text])


def out_of_fold_ranking(encoder: Encoder, data: LabelledData, *, folds: int = OOS_FOLDS,
                        lexical_weight: float = LEXICAL_WEIGHT, cache: Path | None = None,
                        ) -> list[list[tuple[str, float]]]:
    """Each example of ``data`` ranked by a classifier fitted on the other folds (stratified; fewer folds
    when an intent has fewer than ``folds`` examples)."""
    from collections import Counter

    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    folds = min(folds, min(Counter(data.labels).values()))
    if folds < 2:
        raise ValueError("tuning the out-of-scope threshold needs at least 2 examples of every label; "
                         "pass an explicit threshold")
    vectors = encoder.encode(data.texts)
    ranked: list[list[tuple[str, float]]] = [[] for _ in data.texts]
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for fit_rows, held_rows in splitter.split(np.zeros(len(data.labels)), data.labels):
        classifier = EmbeddingIntentClassifier.train(
            encoder, [data.texts[i] for i in fit_rows], [data.labels[i] for i in fit_rows], cache=cache,
            lexical_weight=lexical_weight, vectors=vectors[fit_rows])
        held_texts = [data.texts[i] for i in held_rows]
        fold = rank(classifier.probabilities(held_texts, vectors[held_rows]), classifier.labels)
        for row, ranking in zip(held_rows, fold, strict=True):
            ranked[row] = ranking
    return ranked


def evaluate_intents(
    train: LabelledData, test: LabelledData, *, oos_label: str | None = None, finetune_epochs: int = 0,
    encoders: Sequence[str] = ("onnx", "torch"), threshold: float | None = None, cache: Path | None = None,
    base_model: Path | None = None, oos_recall_target: float = OOS_RECALL_TARGET,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> dict[str, Report]:
    """Train on ``train`` and report on ``test`` for each serving encoder (``onnx``, ``torch``).

    The classifier is the one the runtime serves (:meth:`EmbeddingIntentClassifier.train`: embedding
    logistic regression averaged with the lexical model). With ``oos_label`` present in ``train`` and
    no ``threshold``, the out-of-scope threshold is read off out-of-fold predictions over ``train``: the
    lowest reaching ``oos_recall_target`` (see :func:`threshold_for_recall`); ``test`` is never looked at.
    """
    from bot.embeddings import Embedder, default_model_path

    cache = cache or default_cache()
    base = base_model or default_model_path()
    tune_oos = oos_label is not None and threshold is None and oos_label in set(train.labels)
    if tune_oos and finetune_epochs > 0:
        # the fold models would read an encoder fine-tuned on their held-out folds: over-confident, too low a threshold
        raise ValueError("the out-of-scope threshold cannot be tuned on train when the encoder is fine-tuned on it; "
                         "pass an explicit threshold")
    model_dir = base
    if finetune_epochs > 0:
        model_dir = finetune_encoder(base, train.texts, train.labels, cache / "encoders",
                                     FinetuneConfig(epochs=finetune_epochs))
    torch_encoder = Embedder(model_dir)
    classifiers = cache / "classifiers"
    classifiers.mkdir(parents=True, exist_ok=True)
    chosen = threshold or 0.0
    if tune_oos:
        assert oos_label is not None
        ranked = out_of_fold_ranking(torch_encoder, train, lexical_weight=lexical_weight, cache=classifiers)
        chosen = threshold_for_recall(ranked, train.labels, oos_label, target_recall=oos_recall_target)
        log.info("oos_threshold_tuned", threshold=chosen, target_recall=oos_recall_target)
    trained = EmbeddingIntentClassifier.train(torch_encoder, train.texts, train.labels, cache=classifiers,
                                              lexical_weight=lexical_weight)
    reports: dict[str, Report] = {}
    for name in encoders:
        encoder: Encoder | None = torch_encoder if name == "torch" else onnx_encoder_for(model_dir, cache)
        if encoder is None:
            continue
        classifier = trained.with_encoder(encoder)
        ranked = classifier.predict(test.texts)
        predicted = decide(ranked, chosen, oos_label) if oos_label else [r[0][0] for r in ranked]
        timings = measure_latency(_single(classifier), test.texts)
        reports[name] = build_report(test.labels, predicted, oos_label, timings, chosen)
    return reports
