"""BM25 scoring: postings give the Okapi BM25 formula, and a saved index scores like the one built."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bot.knowledge.lexical import BM25, K1, B
from bot.knowledge.text import words

DOCS = ["free shipping on parcel orders over $75", "returns within 30 days, free parcel returns",
        "shipping shipping shipping to Hawaii costs $24.95", "gift cards never expire"]


def reference(query: dict[str, float]) -> np.ndarray:
    """Okapi BM25 computed term by term from the definition, for comparison."""
    tokenized = [words(d) for d in DOCS]
    average = sum(map(len, tokenized)) / len(tokenized)
    scores = np.zeros(len(DOCS))
    for term, weight in query.items():
        df = sum(term in doc for doc in tokenized)
        idf = math.log(1 + (len(DOCS) - df + 0.5) / (df + 0.5))
        for i, doc in enumerate(tokenized):
            tf = doc.count(term)
            scores[i] += weight * idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(doc) / average)) if tf else 0.0
    return scores


def test_scores_follow_the_bm25_formula_with_weighted_terms() -> None:
    """Repeated terms, weighted query terms and unknown terms score as the formula says."""
    query = {"shipping": 1.0, "parcel": 0.5, "nowhere": 1.0}
    np.testing.assert_allclose(BM25(DOCS).scores(query), reference(query), rtol=1e-5)


def test_a_saved_index_scores_like_the_built_one(tmp_path: Path) -> None:
    """Loading the saved postings gives the same scores; another key or size is refused."""
    built = BM25(DOCS)
    built.save(tmp_path / "lexical.npz", "gen-1")
    loaded = BM25.load(tmp_path / "lexical.npz", "gen-1", len(DOCS))
    assert loaded is not None
    query = {"parcel": 1.0, "return": 0.8}
    np.testing.assert_allclose(loaded.scores(query), built.scores(query))
    assert BM25.load(tmp_path / "lexical.npz", "gen-2", len(DOCS)) is None
    assert BM25.load(tmp_path / "lexical.npz", "gen-1", len(DOCS) + 1) is None
