"""The lexical intent model: deterministic, aligned with the embedding classifier, cached with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bot.infra.embeddings import Embedder
from bot.nlu.embedding_classifier import LEXICAL_WEIGHT, EmbeddingIntentClassifier
from bot.nlu.lexical import LexicalIntentModel

TEXTS = ["where is my order", "track my parcel", "has my package shipped", "my delivery is late",
         "book an appointment", "move my appointment", "cancel my visit", "reschedule my booking",
         "hello there", "hi", "good morning", "hey"]
LABELS = ["order"] * 4 + ["appointment"] * 4 + ["greet"] * 4


def test_lexical_model_is_deterministic_and_normalized() -> None:
    """Two fits on the same data give the same probabilities, one column per label, each row summing to 1."""
    first = LexicalIntentModel.fit(TEXTS, LABELS)
    second = LexicalIntentModel.fit(TEXTS, LABELS)
    queries = ["where's my parcel", "can I move my booking", "hello"]
    probabilities = first.predict_proba(queries)
    assert first.labels == ["appointment", "greet", "order"]
    assert probabilities.shape == (3, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_array_equal(probabilities, second.predict_proba(queries))
    assert [first.labels[i] for i in probabilities.argmax(axis=1)] == ["order", "appointment", "greet"]


def test_lexical_model_computes_what_scikit_learn_would() -> None:
    """The hand-rolled prediction equals softmax(scikit-learn's TF-IDF rows · weights + intercept)."""
    import scipy.sparse as sp
    from sklearn.feature_extraction.text import TfidfVectorizer

    model = LexicalIntentModel.fit(TEXTS, LABELS)
    queries = ["where's my parcel", "can I move my booking", "hello", "zzz"]
    vectorizers = [v for v in model._vectorizers if isinstance(v, TfidfVectorizer)]
    assert len(vectorizers) == len(model._vectorizers) == 2
    rows = sp.hstack([v.transform(queries) for v in vectorizers]).tocsr()
    logits = rows @ model.weights.astype(np.float64) + model.intercept
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(model.predict_proba(queries), expected / expected.sum(axis=1, keepdims=True),
                               atol=1e-12)


def test_lexical_model_handles_two_intents() -> None:
    """With two intents (one logit in scikit-learn) the probabilities still have a column per intent."""
    model = LexicalIntentModel.fit(TEXTS[:8], LABELS[:8])
    probabilities = model.predict_proba(["track my parcel", "move my appointment"])
    assert model.labels == ["appointment", "order"] and probabilities.shape == (2, 2)
    assert probabilities[0].argmax() == 1 and probabilities[1].argmax() == 0


def test_classifier_caches_the_lexical_model_with_the_embedding_model(tmp_path: Path, embedder: Embedder) -> None:
    """A second ``train`` on the same data loads the cached ensemble and ranks exactly as the first."""
    trained = EmbeddingIntentClassifier.train(embedder, TEXTS, LABELS, cache=tmp_path, lexical_weight=LEXICAL_WEIGHT)
    assert trained.lexical is not None and trained.lexical_weight > 0
    assert len(list(tmp_path.glob("intent-*.pkl"))) == 1
    loaded = EmbeddingIntentClassifier.train(embedder, TEXTS, LABELS, cache=tmp_path, lexical_weight=LEXICAL_WEIGHT)
    assert loaded.lexical is not None
    queries = ["where's my parcel", "hello"]
    assert loaded.predict(queries) == trained.predict(queries)


def test_lexical_weight_zero_serves_the_embedding_model_alone(embedder: Embedder) -> None:
    """With ``lexical_weight=0`` no lexical model is fitted and the ranking is the logistic regression's."""
    classifier = EmbeddingIntentClassifier.train(embedder, TEXTS, LABELS, lexical_weight=0.0)
    assert classifier.lexical is None
    vectors = embedder.encode(["where's my parcel"])
    assert isinstance(classifier.model, LogisticRegression)
    expected = classifier.model.predict_proba(vectors)[0]
    top, confidence = classifier.predict(["where's my parcel"])[0][0]
    assert top == "order" and confidence == pytest.approx(float(expected.max()), rel=1e-6)


class _OtherEncoder:
    """The shared embedder under another model folder's name (as a fine-tuned encoder would be)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self.dimension = embedder.dimension
        self.model_path = Path("fine-tuned-elsewhere")

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.embedder.encode(texts)


class _NoEncoder:
    """For a classifier trained on given vectors: encoding is never asked for."""

    dimension = 8

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        raise AssertionError("the vectors are given")


def test_classifier_cache_is_keyed_by_the_encoder(tmp_path: Path, embedder: Embedder) -> None:
    """The same data under another encoder (e.g. a fine-tuned one) gets its own fit, not the cached one."""
    EmbeddingIntentClassifier.train(embedder, TEXTS, LABELS, cache=tmp_path, lexical_weight=LEXICAL_WEIGHT)
    EmbeddingIntentClassifier.train(_OtherEncoder(embedder), TEXTS, LABELS, cache=tmp_path,
                                    lexical_weight=LEXICAL_WEIGHT)
    assert len(list(tmp_path.glob("intent-*.pkl"))) == 2


def test_embedding_model_serves_what_scikit_learn_predicts() -> None:
    """The NumPy serving path equals scikit-learn's predict_proba, for many classes and for two."""
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 8))
    queries = rng.normal(size=(5, 8))
    for labels in (["a", "b", "c"] * 20, ["yes", "no"] * 30):
        classifier = EmbeddingIntentClassifier.train(_NoEncoder(), [str(i) for i in range(60)], labels,
                                                     vectors=vectors, lexical_weight=0.0)
        served = classifier.probabilities(["q"] * 5, queries)
        assert isinstance(classifier.model, LogisticRegression)
        np.testing.assert_allclose(served, classifier.model.predict_proba(queries), rtol=1e-9)
