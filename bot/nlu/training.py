"""Train the intent classifier (optionally fine-tuning the encoder) and pick its serving encoder.

Shared by the runtime (a project's NLU data) and the evaluation command (a dataset CSV), so what is
measured is what is served.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.errors import ConfigError
from bot.logs import get_logger
from bot.nlu.base import Encoder
from bot.nlu.embedding_classifier import LEXICAL_WEIGHT, EmbeddingIntentClassifier
from bot.nlu.evaluation import (
    LabelledData,
    Report,
    build_report,
    decide,
    measure_latency,
    split_holdout,
    tune_threshold,
)
from bot.nlu.finetune import FinetuneConfig, finetune_encoder

log = get_logger(__name__)

OOS_IN_SCOPE_BUDGET = 0.002
"""In-scope accuracy (on the development split) the out-of-scope threshold may cost: CLINC150's
val needs in-scope accuracy first; its out-of-scope recall stays far above the 66 % target."""


def default_cache() -> Path:
    """``CARELINE_CACHE_DIR/nlu-eval`` or ``~/.cache/careline/nlu-eval``."""
    base = os.environ.get("CARELINE_CACHE_DIR") or str(Path.home() / ".cache" / "careline")
    path = Path(base) / "nlu-eval"
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


def evaluate_intents(
    train: LabelledData, test: LabelledData, *, oos_label: str | None = None, finetune_epochs: int = 0,
    encoders: Sequence[str] = ("onnx", "torch"), threshold: float | None = None, cache: Path | None = None,
    base_model: Path | None = None, max_in_scope_drop: float = OOS_IN_SCOPE_BUDGET,
    lexical_weight: float = LEXICAL_WEIGHT,
) -> dict[str, Report]:
    """Train on ``train`` and report on ``test`` for each serving encoder (``onnx``, ``torch``).

    The classifier is the one the runtime serves (:meth:`EmbeddingIntentClassifier.train`: embedding
    logistic regression averaged with the lexical model). With ``oos_label`` present in ``train`` and
    no ``threshold``, the out-of-scope threshold is tuned on 10 % of ``train`` with the in-scope
    accuracy budget ``max_in_scope_drop`` (see :func:`tune_threshold`).
    """
    from bot.embeddings import Embedder, default_model_path

    cache = cache or default_cache()
    base = base_model or default_model_path()
    tune_oos = oos_label is not None and threshold is None and oos_label in set(train.labels)
    fit_part, dev = split_holdout(train, 0.1, seed=0) if tune_oos else (train, None)
    model_dir = base
    if finetune_epochs > 0:
        model_dir = finetune_encoder(base, fit_part.texts, fit_part.labels, cache / "encoders",
                                     FinetuneConfig(epochs=finetune_epochs))
    torch_encoder = Embedder(model_dir)
    classifiers = cache / "classifiers"
    classifiers.mkdir(parents=True, exist_ok=True)
    chosen = threshold or 0.0
    if dev is not None:
        assert oos_label is not None
        tuning = EmbeddingIntentClassifier.train(torch_encoder, fit_part.texts, fit_part.labels, cache=classifiers,
                                                 lexical_weight=lexical_weight)
        chosen = tune_threshold(tuning.predict(dev.texts), dev.labels, oos_label,
                                max_in_scope_drop=max_in_scope_drop)
        log.info("oos_threshold_tuned", threshold=chosen)
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
