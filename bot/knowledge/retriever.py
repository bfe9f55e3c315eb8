"""Rank chunks for a question: dense (question + earlier turns) candidates from FAISS, plus BM25 candidates,
rescored together.

score      = dense + lexical_weight · bm25 / max(bm25 over candidates)
dense      = (sim(question) + w · sim(context)) / (1 + w)       (just sim(question) without context)
similarity = max(sim(question), dense)                           the number the "don't know" threshold sees

A question that reads as a follow-up (a pronoun such as "it", "that", "there", or a leading "and"/"what about")
is also embedded together with the earlier turns; that joint similarity counts for ranking and for the threshold,
so "how much does that cost?" after "can you assemble my bed?" is answered, while an unrelated new question is
still judged on its own words.

``sim`` is the best cosine over a chunk's vectors (its text, and for FAQ chunks its question alone).
Earlier turns let a follow-up ("do they have wifi?") find the entity the conversation is about.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import numpy as np

from bot.infra.embeddings import Encoder
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.entities import EntityIndex
from bot.knowledge.index import VectorIndex
from bot.knowledge.lexical import BM25, query_terms
from bot.knowledge.types import Chunk, RetrievedChunk
from bot.knowledge.vocabulary import Vocabulary

MIN_CANDIDATES = 50
FOLLOW_UP = re.compile(r"^\s*(?:and|also|so|what about|how about)\b|\b(?:it|its|that|this|they|them|their|there|"
                       r"those|these|one)\b", re.IGNORECASE)


class Retriever:
    """Search one loaded index; ``search`` is async (encoding and FAISS run in threads)."""

    def __init__(self, chunks: Sequence[tuple[int, Chunk]], index: VectorIndex, embedder: Encoder,
                 config: KnowledgeConfig, *, bm25: BM25 | None = None) -> None:
        self.config = config
        self.embedder = embedder
        self.index = index
        self.chunk_ids = np.asarray([cid for cid, _ in chunks], dtype=np.int64)
        self.chunks = [chunk for _, chunk in chunks]
        position = {cid: i for i, (cid, _) in enumerate(chunks)}
        self.row_position = np.asarray([position[int(cid)] for cid in index.rows], dtype=np.int64)
        rows_of: list[list[int]] = [[] for _ in self.chunks]
        for row, pos in enumerate(self.row_position):
            rows_of[pos].append(row)
        self.rows_of = rows_of
        if bm25 is None and config.hybrid and self.chunks:
            bm25 = BM25([c.embed_text() for c in self.chunks])
        self.bm25 = bm25 if config.hybrid and self.chunks else None
        """The lexical index (given when loaded from disk, else built from the chunks)."""
        self.vocabulary = Vocabulary(c.embed_text() for c in self.chunks)
        tracking = config.entity_tracking
        if tracking is None:
            tracking = len({c.title for c in self.chunks}) >= config.entity_min_titles
        self.entities = EntityIndex([c.title for c in self.chunks], [c.text for c in self.chunks]) if tracking \
            else None
        """The catalogue's entity names when entity tracking is on (see :mod:`bot.knowledge.entities`)."""
        """Document frequencies and spelling repair over the chunks (for answer selection)."""

    def __len__(self) -> int:
        return len(self.chunks)

    def is_follow_up(self, query: str, context: Sequence[str]) -> bool:
        """Does ``query`` read as a follow-up to earlier turns (and are there any)?"""
        return bool(self.context_text(context)) and bool(FOLLOW_UP.search(query))

    def context_text(self, context: Sequence[str]) -> str:
        """The earlier turns that count, joined (empty when context is off or absent)."""
        turns = [t for t in context if t.strip()][-self.config.context_turns:] if self.config.context_turns else []
        return " ".join(turns)

    async def search(self, query: str, *, top_k: int | None = None, context: Sequence[str] = ()) -> list[
            RetrievedChunk]:
        """The ``top_k`` best chunks for ``query`` given earlier customer turns (most recent last)."""
        if not self.chunks or not query.strip():
            return []
        context_text = self.context_text(context)
        texts = [query, context_text] if context_text else [query]
        if context_text and FOLLOW_UP.search(query):
            texts.append(f"{context_text} {query}")
        vectors = await self.embedder.aencode(texts)
        turns = list(context)[-self.config.context_turns:] if context_text else []
        return await asyncio.to_thread(self.rank, query, vectors, turns, top_k or self.config.top_k, tuple(context))

    def rank(self, query: str, vectors: np.ndarray, context: Sequence[str], top_k: int,
             history: Sequence[str] = ()) -> list[RetrievedChunk]:
        """Blocking part of :meth:`search`: candidates, rescoring, top ``top_k`` (``history``: every earlier
        turn, searched for the entity the conversation is about)."""
        question = vectors[0]
        weight = self.config.context_weight if len(vectors) > 1 else 0.0
        probe = question + weight * vectors[1] if weight else question
        wanted = max(top_k * 10, MIN_CANDIDATES)
        _, rows = self.index.search(probe[None, :], wanted)
        candidates = set(self.row_position[rows[0][rows[0] >= 0]].tolist())
        lexical = None
        if self.bm25 is not None:
            terms = query_terms(query, context, self.config.context_weight)
            for term, extra in self.vocabulary.expansions(query).items():
                terms[term] = max(terms.get(term, 0.0), extra)
            lexical = self.bm25.scores(terms)
            best = np.argpartition(-lexical, min(wanted, len(lexical) - 1))[:wanted]
            candidates.update(int(p) for p in best if lexical[p] > 0)
        entity = self.entities.about(query, history or context) if self.entities is not None else None
        entity_positions = self.entities.positions[entity] if self.entities is not None and entity is not None else []
        candidates.update(entity_positions)
        positions = np.fromiter(candidates, dtype=np.int64)
        row_lists = [self.rows_of[p] for p in positions]
        flat_rows = np.asarray([r for rows_ in row_lists for r in rows_], dtype=np.int64)
        matrix = self.index.vectors(flat_rows)
        owner = np.repeat(np.arange(len(positions)), [len(r) for r in row_lists])
        sim_q = np.full(len(positions), -1.0, dtype=np.float32)
        np.maximum.at(sim_q, owner, matrix @ question)
        dense: np.ndarray = sim_q
        if weight:
            sim_c = np.full(len(positions), -1.0, dtype=np.float32)
            np.maximum.at(sim_c, owner, matrix @ vectors[1])
            dense = (sim_q + weight * sim_c) / (1 + weight)
        if len(vectors) > 2:
            sim_joint = np.full(len(positions), -1.0, dtype=np.float32)
            np.maximum.at(sim_joint, owner, matrix @ vectors[2])
            dense = np.maximum(dense, sim_joint)
        similarity = np.maximum(sim_q, dense)
        score = dense.astype(np.float32)
        if lexical is not None:
            lex = lexical[positions]
            top = float(lex.max()) if len(lex) else 0.0
            if top > 0:
                score = score + np.float32(self.config.lexical_weight) * lex / np.float32(top)
        if entity_positions:
            score = score + (np.float32(self.config.entity_weight) * np.isin(positions, entity_positions)).astype(
                np.float32)
        order = np.argsort(-score)[:top_k]
        return [self._retrieved(int(positions[i]), float(score[i]), float(similarity[i])) for i in order]

    def _retrieved(self, position: int, score: float, similarity: float) -> RetrievedChunk:
        chunk = self.chunks[position]
        return RetrievedChunk(
            chunk_id=int(self.chunk_ids[position]), doc_id=chunk.doc_id, title=chunk.title, heading=chunk.heading,
            heading_path=chunk.heading_path, anchor=chunk.anchor, url=self._url(chunk),
            source_path=chunk.source_path, kind=chunk.kind, text=chunk.text, score=score, similarity=similarity,
            question=chunk.question)

    def _url(self, chunk: Chunk) -> str | None:
        base = chunk.url or (f"{self.config.source_base_url.rstrip('/')}/{chunk.doc_id}"
                             if self.config.source_base_url else None)
        if base is None:
            return None
        return f"{base}#{chunk.anchor}" if chunk.anchor else base
