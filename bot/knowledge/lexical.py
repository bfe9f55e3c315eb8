"""BM25 over chunk texts (numpy postings), saved next to the vector index and loaded, not rebuilt, at start.

Lexical scores complement embeddings on names and codes ("Acorn Guest House", "NW-1042") that a small
sentence encoder blurs; the retriever adds them to the dense score with a small weight.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from bot.knowledge.text import words

K1 = 1.2
B = 0.75
VERSION = "2"
"""Bumped when tokenization (:func:`bot.knowledge.text.words`) or scoring changes: a saved index of another
version is rebuilt."""


class BM25:
    """Okapi BM25 with per-term postings; ``scores`` returns one score per document."""

    def __init__(self, documents: Sequence[str] = ()) -> None:
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

    def save(self, path: Path, key: str) -> None:
        """Write the postings to ``path`` (``.npz``, atomically), tagged with ``key`` (the store generation)."""
        terms = list(self.postings)
        lengths = np.asarray([len(self.postings[t][0]) for t in terms], dtype=np.int64)
        docs = np.concatenate([self.postings[t][0] for t in terms]) if terms else np.zeros(0, dtype=np.int64)
        weights = np.concatenate([self.postings[t][1] for t in terms]) if terms else np.zeros(0, dtype=np.float32)
        header = json.dumps({"version": VERSION, "key": key, "size": self.size, "terms": terms})
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, header=np.asarray(header), lengths=lengths, docs=docs, weights=weights)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, key: str, size: int) -> BM25 | None:
        """The postings saved at ``path`` if they are for ``key`` and ``size`` documents, else ``None``."""
        try:
            with np.load(path) as data:
                header = json.loads(str(data["header"]))
                if header.get("version") != VERSION or header.get("key") != key or header.get("size") != size:
                    return None
                lengths, docs, weights = data["lengths"], data["docs"], data["weights"]
        except (OSError, ValueError, KeyError):
            return None
        bm25 = cls()
        bm25.size = size
        ends = np.cumsum(lengths)
        starts = ends - lengths
        bm25.postings = {term: (docs[s:e], weights[s:e])
                         for term, s, e in zip(header["terms"], starts.tolist(), ends.tolist(), strict=True)}
        return bm25

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
