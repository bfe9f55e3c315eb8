"""BM25 over chunk texts (numpy postings, built in memory when the knowledge base opens).

Lexical scores complement embeddings on names and codes ("Acorn Guest House", "NW-1042") that a small
sentence encoder blurs; the retriever adds them to the dense score with a small weight.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from bot.knowledge.text import words

K1 = 1.2
B = 0.75


class BM25:
    """Okapi BM25 with per-term postings; ``scores`` returns one score per document."""

    def __init__(self, documents: Sequence[str]) -> None:
        self.size = len(documents)
        postings: dict[str, tuple[list[int], list[float]]] = defaultdict(lambda: ([], []))
        lengths = np.zeros(self.size, dtype=np.float32)
        counts: list[Counter[str]] = []
        for i, text in enumerate(documents):
            terms = Counter(words(text))
            counts.append(terms)
            lengths[i] = sum(terms.values())
        average = float(lengths.mean()) if self.size else 1.0
        for i, terms in enumerate(counts):
            norm = K1 * (1 - B + B * lengths[i] / max(average, 1e-6))
            for term, tf in terms.items():
                docs, weights = postings[term]
                docs.append(i)
                weights.append(tf * (K1 + 1) / (tf + norm))
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for term, (docs, weights) in postings.items():
            idf = math.log(1 + (self.size - len(docs) + 0.5) / (len(docs) + 0.5))
            self.postings[term] = (np.asarray(docs, dtype=np.int64), np.asarray(weights, dtype=np.float32) * idf)

    def scores(self, query_terms: Mapping[str, float]) -> np.ndarray:
        """BM25 score of every document for weighted query terms (``{term: weight}``)."""
        result = np.zeros(self.size, dtype=np.float32)
        for term, weight in query_terms.items():
            posting = self.postings.get(term)
            if posting is not None:
                np.add.at(result, posting[0], posting[1] * weight)
        return result


def query_terms(query: str, context: Sequence[str] = (), context_weight: float = 0.35) -> dict[str, float]:
    """Terms of the question (weight 1) and of earlier turns (``context_weight``, more recent counts more)."""
    terms: dict[str, float] = {}
    for age, turn in enumerate(reversed(context), start=1):
        for term in words(turn):
            terms[term] = max(terms.get(term, 0.0), context_weight / age)
    for term in words(query):
        terms[term] = 1.0
    return terms
