"""Knowledge settings (``knowledge:`` in a project's config.yml)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class KnowledgeConfig(BaseModel):
    """How the knowledge retriever ingests, searches and answers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = True
    """Answer questions from the project's ``knowledge/`` folder."""
    top_k: int = Field(default=5, ge=1, le=50)
    """Chunks retrieved per question."""
    threshold: float = Field(default=0.49, ge=-1, le=1)
    """Below this similarity (cosine between the question and the best chunk) the bot says it does not know and
    offers a human. 0.49 maximizes balanced accuracy on the demo knowledge base's 64 answerable and 30
    unanswerable questions (``benchmarks/knowledge_bench.py --calibrate``)."""
    answer_threshold: float = Field(default=0.4, ge=0, le=1)
    """The extractive answer is given only when the best candidate answer's probability (question/FAQ-question
    match, word coverage, answer type; :mod:`bot.knowledge.answer_select`) reaches this; below it the bot says
    it does not know and offers a person. Chosen on the development QA set (``evals/data/knowledge``)."""
    confident_similarity: float = Field(default=0.65, ge=-1, le=1)
    """When the best retrieved chunk is at least this similar to the question, the best candidate answer is given
    even if the answer gate doubts it (a direct hit on a topic: "do you offer telehealth appointments")."""
    answer_candidates: int = Field(default=5, ge=1, le=50)
    """Chunks whose FAQ answers and sentences compete to be the answer (retrieved best first)."""
    answer_mode: Literal["auto", "extractive", "llm"] = "auto"
    """``auto`` uses the LLM when one is configured (falling back to extractive), else extractive."""
    max_chunk_chars: int = Field(default=900, ge=200, le=8000)
    """Longest chunk text; longer sections are split at paragraph, list-item or sentence boundaries."""
    hnsw_threshold: int = Field(default=20_000, ge=0)
    """From this many vectors on, the FAISS index is HNSW (approximate) instead of exact inner product. Measured on
    2 cores, one thread: exact search p50 1.1 ms at 10k vectors, 16 ms at 30k, 41 ms at 100k; HNSW 0.3–0.8 ms but
    slower to build (3.7 s at 10k, 69 s at 100k). See benchmarks/knowledge_bench.py."""
    hybrid: bool = True
    """Mix BM25 lexical scores into the ranking (helps names, codes and entity follow-ups)."""
    lexical_weight: float = Field(default=0.15, ge=0, le=1)
    """Weight of the normalized BM25 score added to the dense score when ``hybrid`` is on."""
    context_turns: int = Field(default=3, ge=0, le=10)
    """Earlier customer turns (most recent last) used to resolve follow-ups like "do they have wifi?"."""
    context_weight: float = Field(default=0.6, ge=0, le=2)
    """Weight of the earlier turns' embedding (and of their words in BM25) relative to the question."""
    entity_tracking: bool | None = None
    """Find the catalogue entity (a document title: hotel, restaurant, store) the question or an earlier turn
    names, spoken forms and slips included, and rank that entity's documents first (:mod:`bot.knowledge.entities`).
    ``None`` (auto): on when the documents have at least ``entity_min_titles`` distinct titles — a catalogue,
    not a handful of policy pages."""
    entity_min_titles: int = Field(default=50, ge=1)
    """Distinct document titles from which ``entity_tracking`` turns itself on."""
    entity_weight: float = Field(default=0.3, ge=0, le=2)
    """Added to the score of the tracked entity's chunks (and they all join the candidates)."""
    max_answer_sentences: int = Field(default=3, ge=1, le=10)
    """Longest extractive answer, in sentences."""
    cite_in_text: bool = True
    """Append "(Source: title › heading)" to extractive answer text; citations are always returned too."""
    grounding_threshold: float = Field(default=0.6, ge=0, le=1)
    """An LLM answer sentence counts as supported when its cosine to a sentence of a cited passage reaches this
    (and every number it states appears in the cited passages)."""
    llm_passages: int = Field(default=4, ge=1, le=10)
    """Passages given to the LLM, numbered [1]..[n]."""
    source_base_url: str | None = None
    """Prefix for citation links: ``{source_base_url}/{doc_id}#{anchor}`` unless a document declares its own ``url``."""
