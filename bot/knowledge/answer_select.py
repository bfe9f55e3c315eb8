"""Choose the passage that answers the question, or none: candidate answers from the top chunks, scored.

Candidates: a FAQ chunk is one candidate, its answer, matched mainly through its *question*; any other chunk
gives one candidate per sentence, list item or table row (a lead-in ending in ":" carries its items).
Each candidate gets the features below and a
logistic score (weights fitted on the development QA set, ``evals/data/knowledge/qa_dev.yml``: ranking weights by a
listwise softmax over each question's candidates, the answer-or-refuse gate by logistic regression; the
held-aside set is never used for it):

``sim_unit``      cosine(question, candidate text)
``sim_faq``       cosine(question, FAQ question) (0 for prose)
``is_faq``        1 for a FAQ answer
``sim_chunk``     the retriever's similarity for the chunk
``cover``         IDF-weighted share of the question's words found in the candidate, its heading path, title
                  and FAQ question (:class:`bot.knowledge.vocabulary.Vocabulary`: synonyms, typo repair); an
                  unmatched rare word weighs heavily, so one shared strong word is not enough
``cover_unit``    the same, in the candidate text alone
``type_match``    +1 when the question wants an amount/duration/time/place/phone and the candidate states
                  one, -1 when it states none, 0 when no particular kind is wanted
``rank``          1 / (1 + the chunk's rank)

The best candidate answers when its probability reaches ``KnowledgeConfig.answer_threshold``; otherwise
the bot says it does not know (and the engine offers a person).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bot.infra.embeddings import Encoder, ServingEncoder
from bot.knowledge.answer_extractive import answer_body, units_of
from bot.knowledge.question import QuestionType, classify
from bot.knowledge.types import RetrievedChunk
from bot.knowledge.vocabulary import Vocabulary, text_roots

FEATURES = ("sim_unit", "sim_faq", "is_faq", "sim_chunk", "cover", "cover_unit", "type_match", "rank", "sim_ctx",
            "missing")
WEIGHTS = np.asarray([2.478, 0.576, -0.533, 1.334, 2.613, 2.344, 1.221, 2.077, 2.422, -0.262], dtype=np.float64)
"""Ranking weights per feature: a candidate's score is ``features @ WEIGHTS`` (fitted listwise, see above)."""
GATE_FEATURES = ("score", "margin", "cover", "cover_unit", "sim_faq", "sim_unit", "sim_ctx", "sim_chunk", "is_faq",
                 "missing")
GATE_WEIGHTS = np.asarray([0.499, 0.646, 0.75, 0.283, 0.582, 0.592, 1.153, 0.564, -0.626, 0.457], dtype=np.float64)
GATE_BIAS = -6.284
"""Answer-or-refuse logistic model over the best candidate (its score, its margin over the runner-up, its
features): the probability that the best candidate answers the question."""

_MID_THOUGHT = re.compile(r"^(?:this|that|these|those|it|its|they|them|their|then|after that|also|however|but|"
                          r"otherwise|so|such|both|each|there|here|if so|in that case|instead)\b", re.IGNORECASE)
_OPENER = re.compile(r"^(?:yes|no)(?:[.!]\s+|,\s+)(?=\S)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One possible answer: a FAQ answer or a unit (sentence, item, row) of a prose chunk."""

    chunk: RetrievedChunk
    rank: int
    units: tuple[tuple[str, bool], ...]
    """The chunk's units (text, is list item)."""
    unit: int | None
    """Index of the candidate unit in ``units``; ``None`` for a FAQ answer (all units)."""
    text: str


@dataclass(frozen=True, slots=True)
class Selection:
    """The chosen candidate, its probability and the composed answer text."""

    candidate: Candidate
    probability: float
    text: str


class AnswerSelector:
    """Score candidate answers from retrieved chunks and compose the reply text."""

    def __init__(self, embedder: Encoder, vocabulary: Vocabulary, *, weights: np.ndarray = WEIGHTS,
                 gate_weights: np.ndarray = GATE_WEIGHTS, gate_bias: float = GATE_BIAS) -> None:
        self.embedder = embedder
        self.vocabulary = vocabulary
        self.weights = weights
        self.gate_weights = gate_weights
        self.gate_bias = gate_bias
        self.encoder = embedder if isinstance(embedder, ServingEncoder) else ServingEncoder(embedder)
        """Memoizes the candidates' vectors (the same passages come back question after question); the runtime's
        serving encoder, shared with the other stages, when it is the one given."""

    async def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts``, encoding only those not seen recently."""
        return await self.encoder.aencode(texts)

    def candidates(self, chunks: Sequence[RetrievedChunk]) -> list[Candidate]:
        """Every candidate answer of ``chunks`` (best chunk first)."""
        found: list[Candidate] = []
        for rank, chunk in enumerate(chunks):
            body = answer_body(chunk)
            units = tuple(units_of(body))
            if not units:
                continue
            if chunk.kind == "faq":
                found.append(Candidate(chunk, rank, units, None, body))
                continue
            for i, (text, _) in enumerate(units):
                if text.endswith(":"):
                    items = [t for t, is_item in units[i + 1:i + 9] if is_item]
                    text = f"{text} {'; '.join(items)}" if items else text
                found.append(Candidate(chunk, rank, units, i, text))
        return found

    async def features(self, question: str, context: Sequence[str], candidates: Sequence[Candidate],
                       kind: QuestionType, follow_up: bool) -> np.ndarray:
        """The feature matrix (one row per candidate, columns as :data:`FEATURES`)."""
        queries = [question]
        if follow_up and context:
            queries.append(f"{context[-1]} {question}")
        faq_questions = [c.chunk.question or "" for c in candidates]
        texts = [c.text for c in candidates]
        situated = [situate(c) for c in candidates]
        vectors = await self.vectors([*queries, *texts, *situated, *(q for q in faq_questions if q)])
        query_vecs = vectors[:len(queries)]
        n = len(texts)
        text_vecs = vectors[len(queries):len(queries) + n]
        situated_vecs = vectors[len(queries) + n:len(queries) + 2 * n]
        faq_vecs = iter(vectors[len(queries) + 2 * n:])
        sim_unit = (text_vecs @ query_vecs.T).max(axis=1)
        sim_ctx = (situated_vecs @ query_vecs.T).max(axis=1)
        sim_faq = np.zeros(len(candidates))
        for i, q in enumerate(faq_questions):
            if q:
                sim_faq[i] = float((query_vecs @ next(faq_vecs)).max())
        question_terms = self.vocabulary.terms(question)
        if follow_up and context:
            question_terms += [t for t in self.vocabulary.terms(context[-1]) if t not in question_terms]
        rows = []
        for i, candidate in enumerate(candidates):
            chunk = candidate.chunk
            unit_words = text_roots(candidate.text)
            around = unit_words | text_roots(" ".join([chunk.title, *chunk.heading_path, chunk.question or ""]))
            satisfied = kind.satisfied_by(candidate.text)
            cover, missing = self.vocabulary.coverage(question_terms, around)
            rows.append([
                sim_unit[i], sim_faq[i], float(chunk.kind == "faq"), chunk.similarity,
                cover, self.vocabulary.coverage(question_terms, unit_words)[0],
                0.0 if satisfied is None else (1.0 if satisfied else -1.0), 1 / (1 + candidate.rank), sim_ctx[i],
                missing,
            ])
        return np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(FEATURES))

    def scores(self, features: np.ndarray) -> np.ndarray:
        """Ranking score of each candidate (higher is a better answer)."""
        return np.asarray(features @ self.weights, dtype=np.float64)

    def gate_features(self, features: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """The answer-or-refuse features of the best candidate (columns as :data:`GATE_FEATURES`)."""
        order = np.argsort(-scores)
        best = features[order[0]]
        margin = float(scores[order[0]] - scores[order[1]]) if len(order) > 1 else 1.0
        pick = {name: best[FEATURES.index(name)] for name in FEATURES}
        return np.asarray([scores[order[0]], margin, *(pick[name] for name in GATE_FEATURES[2:])])

    def probability(self, gate: np.ndarray) -> float:
        """Probability that the best candidate answers the question."""
        logit = float(gate @ self.gate_weights + self.gate_bias)
        return 1 / (1 + math.exp(-max(-30.0, min(30.0, logit))))

    async def select(self, question: str, context: Sequence[str], chunks: Sequence[RetrievedChunk], *,
                     follow_up: bool, max_sentences: int) -> Selection | None:
        """The best candidate with its composed text (``None`` when there is no candidate at all)."""
        candidates = self.candidates(chunks)
        if not candidates:
            return None
        kind = classify(question)
        features = await self.features(question, context, candidates, kind, follow_up)
        scores = self.scores(features)
        best = int(np.argmax(scores))
        probability = self.probability(self.gate_features(features, scores))
        text = compose(candidates, scores, best, kind, max_sentences=max_sentences)
        return Selection(candidates[best], probability, text)


def compose(candidates: Sequence[Candidate], scores: np.ndarray, best: int, kind: QuestionType, *,
            max_sentences: int, margin: float = 0.5) -> str:
    """The reply text for ``candidates[best]``: a FAQ answer whole; a prose unit with what it needs to stand
    alone (the sentence before one that starts mid-thought, the items after a lead-in ending in ":"), plus
    neighbouring units of the same chunk scoring within ``margin``; "Yes."/"No." dropped when the question is
    not a yes/no question."""
    chosen = candidates[best]
    if chosen.unit is None:
        text = _join(list(chosen.units))
    else:
        units = chosen.units
        picked = {chosen.unit}
        same = [(i, c) for i, c in enumerate(candidates) if c.chunk.chunk_id == chosen.chunk.chunk_id and i != best]
        for i, c in sorted(same, key=lambda pair: -scores[pair[0]]):
            if len(picked) >= max_sentences:
                break
            if c.unit is not None and abs(c.unit - chosen.unit) == 1 and scores[i] >= scores[best] - margin:
                picked.add(c.unit)
        for i in sorted(picked):
            if i > 0 and _MID_THOUGHT.match(units[i][0]) and not units[i][1]:
                picked.add(i - 1)
        for i in sorted(picked):
            if units[i][0].endswith(":"):
                picked.update(j for j in range(i + 1, min(len(units), i + 8)) if units[j][1])
            elif units[i][1] and i > 0 and units[i - 1][0].endswith(":") and len(units[i][0].split()) <= 4:
                picked.add(i - 1)
        text = _join([units[i] for i in sorted(picked)])
    if not kind.yes_no:
        text = drop_yes_no(text)
    return text


def situate(candidate: Candidate) -> str:
    """The candidate with what it is about: FAQ question and answer, or the heading path before a unit."""
    chunk = candidate.chunk
    if chunk.question:
        return f"{chunk.question} {candidate.text}"
    heading = " › ".join(h for h in chunk.heading_path if h != chunk.title) or chunk.title
    return f"{heading}: {candidate.text}"


def drop_yes_no(text: str) -> str:
    """``text`` without a leading "Yes." / "No." / "Yes," (the rest capitalized); "No, ..." is kept whole
    because its negation carries the meaning."""
    match = _OPENER.match(text)
    if match is None or match.group(0).lower().startswith("no,"):
        return text
    rest = text[match.end():]
    return rest[:1].upper() + rest[1:]


def _join(units: list[tuple[str, bool]]) -> str:
    """Prose sentences joined by spaces, list items one per line."""
    out = ""
    after_item = False
    for text, is_item in units:
        if is_item:
            out += f"\n- {text}"
        else:
            out += ("\n" if after_item else " ") + text
        after_item = is_item
    return re.sub(r"[ \t]+", " ", out).strip()

