"""Is a generated answer supported by the passages it cites?

Method (no NLI model ships offline with our dependencies, so three cheap checks, each covering a known
weakness of the others):

1. citation: every sentence cites at least one existing passage ([n] with 1 ≤ n ≤ passages); a sentence
   without a marker takes the citations of the next cited sentence (models often cite once per paragraph);
2. similarity: the sentence (markers removed) has a cosine ≥ ``threshold`` with some sentence of a cited
   passage, or with the whole passage — MiniLM captures paraphrase well;
3. facts: every number in the sentence (days, prices, times) occurs in the cited passages, and a negation
   ("not", "no", "never", "n't") in the sentence is matched by one in its best-supporting passage sentence or the
   other way round — sentence embeddings barely see numbers and negation, which are exactly what a
   hallucinated policy gets wrong ("returns within 90 days" vs "30 days").

The answer is grounded only when every sentence passes all three.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from bot.infra.embeddings import Encoder
from bot.knowledge.text import cited_numbers, numbers, split_sentences, strip_citations

_NEGATION = re.compile(r"\b(?:not|no|never|none|cannot|without)\b|n't\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SentenceCheck:
    """How one answer sentence fared."""

    sentence: str
    cited: tuple[int, ...]
    support: float
    problem: str | None
    """``None`` when supported, else why not (``no citation``, ``low similarity``, ``number not in passages``...)."""


@dataclass(frozen=True, slots=True)
class Grounding:
    """The verdict on a whole answer."""

    grounded: bool
    sentences: tuple[SentenceCheck, ...]
    cited: tuple[int, ...]
    """Passage numbers cited anywhere in the answer, in order of first use."""


def _citations(sentences: list[str], passages: int) -> list[tuple[int, ...]]:
    found = [tuple(sorted(cited_numbers(s))) for s in sentences]
    result: list[tuple[int, ...]] = []
    for i, cites in enumerate(found):
        if not cites:
            cites = next((c for c in found[i + 1:] if c), next((c for c in reversed(found[:i]) if c), ()))
        result.append(cites)
    return result


async def check_grounding(answer: str, passages: list[str], embedder: Encoder, *, threshold: float) -> Grounding:
    """Check ``answer`` against ``passages`` (numbered from 1 in the prompt)."""
    sentences = [s for s in split_sentences(answer) if strip_citations(s)]
    if not sentences:
        return Grounding(False, (), ())
    citations = _citations(sentences, len(passages))
    passage_sentences = [split_sentences(p) or [p] for p in passages]
    texts = [strip_citations(s) for s in sentences]
    flat = [s for group in passage_sentences for s in group]
    vectors = await embedder.aencode([*texts, *flat, *passages])
    answer_vecs = vectors[:len(texts)]
    sentence_vecs = vectors[len(texts):len(texts) + len(flat)]
    passage_vecs = vectors[len(texts) + len(flat):]
    owner = np.repeat(np.arange(len(passages)), [len(g) for g in passage_sentences])
    checks: list[SentenceCheck] = []
    for text, vec, cites in zip(texts, answer_vecs, citations, strict=True):
        checks.append(_check(text, vec, cites, passages, flat, owner, sentence_vecs, passage_vecs, threshold))
    order: list[int] = []
    for cites in citations:
        order.extend(c for c in cites if c not in order)
    return Grounding(all(c.problem is None for c in checks), tuple(checks), tuple(order))


def _check(text: str, vec: np.ndarray, cites: tuple[int, ...], passages: list[str], flat: list[str],
           owner: np.ndarray, sentence_vecs: np.ndarray, passage_vecs: np.ndarray, threshold: float) -> SentenceCheck:
    if not cites:
        return SentenceCheck(text, cites, 0.0, "no citation")
    if any(c < 1 or c > len(passages) for c in cites):
        return SentenceCheck(text, cites, 0.0, "cites a passage that does not exist")
    allowed = np.isin(owner, np.asarray(cites) - 1)
    sentence_scores = np.where(allowed, sentence_vecs @ vec, -1.0)
    best_sentence = int(np.argmax(sentence_scores))
    support = max(float(sentence_scores[best_sentence]), float(max(passage_vecs[c - 1] @ vec for c in cites)))
    if support < threshold:
        return SentenceCheck(text, cites, support, "low similarity to the cited passages")
    source = " ".join(passages[c - 1] for c in cites)
    missing = numbers(text) - numbers(source)
    if missing:
        return SentenceCheck(text, cites, support, f"number not in passages: {', '.join(sorted(missing))}")
    if bool(_NEGATION.search(text)) != bool(_NEGATION.search(flat[best_sentence])):
        return SentenceCheck(text, cites, support, "negation differs from the best supporting sentence")
    return SentenceCheck(text, cites, support, None)
