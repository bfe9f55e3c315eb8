"""Intent classifier on sentence embeddings: MiniLM vectors + multinomial logistic regression.

Training a demo-sized project takes seconds; the fitted model is cached on disk keyed by a hash of
the training data, so restarts are instant. The encoder is swappable (:meth:`with_encoder`): train
with sentence-transformers, serve through the int8 ONNX graph (:mod:`bot.nlu.onnx_encoder`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.logs import get_logger
from bot.nlu.base import Encoder, IntentClassifier

log = get_logger(__name__)


def data_hash(texts: Sequence[str], labels: Sequence[str]) -> str:
    """Stable hash of the training data (cache key)."""
    return hashlib.sha256(json.dumps([list(texts), list(labels)]).encode()).hexdigest()[:24]


def fit_logistic(vectors: np.ndarray, labels: Sequence[str], c: float = 10.0) -> tuple[object, list[str]]:
    """Multinomial logistic regression on ``vectors``; returns the model and its class order."""
    from sklearn.linear_model import LogisticRegression

    if len(set(labels)) < 2:
        raise ValueError("intent classification needs examples of at least two intents")
    model = LogisticRegression(C=c, max_iter=3000)
    model.fit(vectors, list(labels))
    return model, [str(c_) for c_ in model.classes_]


class EmbeddingIntentClassifier(IntentClassifier):
    """Logistic regression over normalized sentence embeddings."""

    def __init__(self, encoder: Encoder, model: object, labels: list[str]) -> None:
        self.encoder = encoder
        self.model = model
        self.labels = labels

    @classmethod
    def train(
        cls, encoder: Encoder, texts: Sequence[str], labels: Sequence[str], *, cache: Path | None = None,
        c: float = 10.0,
    ) -> EmbeddingIntentClassifier:
        """Fit on ``texts``/``labels`` (or load the cached fit for the same data)."""
        key = data_hash([*texts, f"c={c}"], [*labels, ""])
        file = cache / f"intent-{key}.pkl" if cache else None
        if file is not None and file.exists():
            with file.open("rb") as fh:
                model, classes = pickle.load(fh)  # noqa: S301 - our own cache file
            log.info("intent_classifier_loaded", path=str(file), intents=len(classes))
            return cls(encoder, model, classes)
        model, classes = fit_logistic(encoder.encode(texts), labels, c)
        if file is not None:
            with file.open("wb") as fh:
                pickle.dump((model, classes), fh)
        log.info("intent_classifier_trained", examples=len(texts), intents=len(classes))
        return cls(encoder, model, classes)

    def with_encoder(self, encoder: Encoder) -> EmbeddingIntentClassifier:
        """The same fitted classifier reading vectors from ``encoder`` (e.g. the ONNX export)."""
        return EmbeddingIntentClassifier(encoder, self.model, self.labels)

    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        return self.predict_vectors(self.encoder.encode(texts))

    def predict_vectors(self, vectors: np.ndarray) -> list[list[tuple[str, float]]]:
        """Ranked (intent, probability) pairs for precomputed embeddings."""
        probabilities = self.model.predict_proba(vectors)  # type: ignore[attr-defined]
        out = []
        for row in probabilities:
            order = np.argsort(-row)
            out.append([(self.labels[i], float(row[i])) for i in order])
        return out
