"""On a small real sample of BANKING77, averaging the lexical model in beats either model alone."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from bot.infra.embeddings import Embedder
from bot.nlu.embedding_classifier import LEXICAL_WEIGHT, EmbeddingIntentClassifier
from evals.nlu import read_csv, split_holdout

BANKING77 = Path(os.environ.get("CARELINE_DATASETS", "/work/shared/datasets")) / "banking77" / "train.csv"


@pytest.mark.skipif(not BANKING77.exists(), reason=f"BANKING77 is not at {BANKING77}")
def test_ensemble_beats_the_embedding_and_the_lexical_model_alone(embedder: Embedder) -> None:
    """About 8 examples per intent for training and 5 for testing, all 77 intents: ensemble > each part."""
    sample = split_holdout(read_csv(BANKING77), 0.1, seed=0)[1]
    train, test = split_holdout(sample, 0.4, seed=0)
    classifier = EmbeddingIntentClassifier.train(embedder, train.texts, train.labels, lexical_weight=LEXICAL_WEIGHT)
    assert classifier.lexical is not None
    gold = np.array([classifier.labels.index(label) for label in test.labels])
    assert isinstance(classifier.model, LogisticRegression)
    embedding = np.asarray(classifier.model.predict_proba(embedder.encode(test.texts)))
    lexical = classifier.lexical.predict_proba(test.texts)
    both = classifier.probabilities(test.texts, embedder.encode(test.texts))
    accuracy = {name: float((p.argmax(axis=1) == gold).mean())
                for name, p in (("embedding", embedding), ("lexical", lexical), ("ensemble", both))}
    assert accuracy["ensemble"] > max(accuracy["embedding"], accuracy["lexical"]), accuracy
