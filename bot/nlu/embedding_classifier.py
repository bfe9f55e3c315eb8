"""Intent classifier on sentence embeddings: MiniLM vectors + multinomial logistic regression,
averaged with a lexical TF-IDF model (:mod:`bot.nlu.lexical`).

The two views make different mistakes: the embedding generalizes over paraphrases, the lexical model
keeps the exact words that separate neighbouring intents. Their probabilities are averaged with
``lexical_weight`` (0.3, chosen on development splits of BANKING77's training part; 0 turns the
lexical model off). Training a demo-sized project takes seconds; the fitted models are cached on disk
keyed by a hash of the training data, so restarts are instant. The encoder is swappable
(:meth:`with_encoder`): train with sentence-transformers, serve through the int8 ONNX graph
(:mod:`bot.nlu.onnx_encoder`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.infra.logs import get_logger
from bot.nlu.base import Encoder, IntentClassifier
from bot.nlu.lexical import LexicalConfig, LexicalIntentModel
from bot.nlu.linear import linear_weights, softmax

log = get_logger(__name__)

LEXICAL_WEIGHT = 0.3
"""Share of the lexical model tuned for large intent sets (on a split of BANKING77's train part); the public-set
evaluations use it. A project's own weight is ``nlu.lexical_weight`` (its one default lives in the config)."""


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
    """Logistic regression over normalized sentence embeddings, optionally averaged with a lexical model."""

    def __init__(self, encoder: Encoder, model: object, labels: list[str], *,
                 lexical: LexicalIntentModel | None, lexical_weight: float) -> None:
        if lexical is not None and lexical.labels != labels:
            raise ValueError(f"lexical model classes differ from the embedding model's: {lexical.labels[:3]}...")
        self.encoder = encoder
        self.model = model
        self.labels = labels
        self._weights, self._intercept = linear_weights(model)
        self.lexical = lexical
        self.lexical_weight = lexical_weight if lexical is not None else 0.0

    @classmethod
    def train(
        cls, encoder: Encoder, texts: Sequence[str], labels: Sequence[str], *, cache: Path | None = None,
        lexical_weight: float, c: float = 10.0, lexical: LexicalConfig | None = None,
        vectors: np.ndarray | None = None,
    ) -> EmbeddingIntentClassifier:
        """Fit on ``texts``/``labels`` (or load the cached fit for the same data and settings).

        ``vectors`` are ``encoder``'s embeddings of ``texts`` when the caller has them already.
        """
        lexical = lexical or LexicalConfig()
        # v3: the pickle holds the lexical model; the encoder's model folder is part of the key (a fine-tuned
        # encoder needs its own fit)
        model_path = getattr(encoder, "model_path", type(encoder).__name__)
        settings = f"v3 c={c} lexical={lexical_weight} {lexical!r} encoder={model_path}"
        key = data_hash([*texts, settings], [*labels, ""])
        file = cache / f"intent-{key}.pkl" if cache else None
        if file is not None and file.exists():
            with file.open("rb") as fh:
                model, classes, lexical_model = pickle.load(fh)  # noqa: S301 - our own cache file
            log.info("intent_classifier_loaded", path=str(file), intents=len(classes))
            return cls(encoder, model, classes, lexical=lexical_model, lexical_weight=lexical_weight)
        model, classes = fit_logistic(encoder.encode(texts) if vectors is None else vectors, labels, c)
        lexical_model = LexicalIntentModel.fit(texts, labels, lexical) if lexical_weight > 0 else None
        if file is not None:
            with file.open("wb") as fh:
                pickle.dump((model, classes, lexical_model), fh)
        log.info("intent_classifier_trained", examples=len(texts), intents=len(classes),
                 lexical_weight=lexical_weight)
        return cls(encoder, model, classes, lexical=lexical_model, lexical_weight=lexical_weight)

    def with_encoder(self, encoder: Encoder) -> EmbeddingIntentClassifier:
        """The same fitted classifier reading vectors from ``encoder`` (e.g. the ONNX export)."""
        return EmbeddingIntentClassifier(encoder, self.model, self.labels, lexical=self.lexical,
                                         lexical_weight=self.lexical_weight)

    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        return rank(self.probabilities(texts, self.encoder.encode(texts)), self.labels)

    def probabilities(self, texts: Sequence[str], vectors: np.ndarray) -> np.ndarray:
        """Averaged class probabilities (columns in :attr:`labels` order) for ``texts`` and their embeddings."""
        probabilities = softmax(np.asarray(vectors, dtype=np.float64) @ self._weights + self._intercept)
        if self.lexical is None or self.lexical_weight <= 0:
            return probabilities
        lexical = self.lexical.predict_proba(texts)
        return (1 - self.lexical_weight) * probabilities + self.lexical_weight * lexical


def rank(probabilities: np.ndarray, labels: Sequence[str]) -> list[list[tuple[str, float]]]:
    """Per row, (label, probability) pairs best first."""
    out = []
    for row in probabilities:
        order = np.argsort(-row)
        out.append([(labels[i], float(row[i])) for i in order])
    return out
