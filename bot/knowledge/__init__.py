"""Answers from the project's documents, with citations, or an honest "I don't know".

    kb = KnowledgeBase.open(project_dir, KnowledgeConfig(), embedder=shared_embedder())
    answer = await kb.answer("How long do refunds take?")
    if answer.answered: print(answer.text, answer.citations)

``open`` brings the on-disk index up to date (only changed files are re-embedded); ``search`` ranks chunks;
``answer`` applies the calibrated threshold, then composes an extractive answer, or, with an LLM configured,
a generated one that is checked for groundedness and replaced by the extractive answer when it is not
grounded or the LLM fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bot.infra.cache import cache_dir
from bot.infra.embeddings import Encoder
from bot.infra.llm import LLMConfig
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.knowledge.answer_extractive import source_line
from bot.knowledge.answer_llm import LLMAnswerer
from bot.knowledge.answer_select import AnswerSelector
from bot.knowledge.config import KnowledgeConfig
from bot.knowledge.grounding import check_grounding
from bot.knowledge.index import store_generation
from bot.knowledge.ingest import IngestReport, Progress, ingest
from bot.knowledge.lexical import BM25
from bot.knowledge.retriever import Retriever
from bot.knowledge.types import Chunk, Citation, KnowledgeAnswer, RetrievedChunk
from bot.knowledge.vocabulary import rewrite

__all__ = ["Chunk", "Citation", "IngestReport", "KnowledgeAnswer", "KnowledgeBase", "KnowledgeConfig",
           "RetrievedChunk", "default_index_dir"]

log = get_logger(__name__)


def default_index_dir(project_dir: Path) -> Path:
    """``PROJECT/.careline/knowledge``, or a per-user cache folder keyed by the project path when the project
    is not writable (e.g. installed in site-packages)."""
    return cache_dir(project_dir, "knowledge")


class KnowledgeBase:
    """One project's documents, indexed, searchable and answerable."""

    def __init__(self, retriever: Retriever, config: KnowledgeConfig, embedder: Encoder,
                 llm: LLMAnswerer | None, report: IngestReport) -> None:
        self.retriever = retriever
        self.config = config
        self.embedder = embedder
        self.llm = llm
        self.report = report
        """What the ingest at :meth:`open` did (added, updated, removed, skipped files)."""
        self.selector = AnswerSelector(embedder, retriever.vocabulary)

    @classmethod
    def open(cls, project_dir: Path, config: KnowledgeConfig, *, embedder: Encoder, llm: LLMConfig | None = None,
             index_dir: Path | None = None, knowledge_dir: Path | None = None,
             progress: Progress | None = None) -> KnowledgeBase:
        """Load the index of ``project_dir/knowledge`` (or ``knowledge_dir``), updating it first when stale.

        Blocking (reads files, may embed): call at start-up or from a thread.
        """
        root = knowledge_dir or Path(project_dir) / "knowledge"
        folder = index_dir or default_index_dir(Path(project_dir))
        report, store, index = ingest(root, folder, embedder, config, progress=progress)
        try:
            chunks = list(store.chunks())
        finally:
            store.close()
        bm25 = None
        if config.hybrid and chunks:
            key = store_generation(folder)
            path = folder / "lexical.npz"
            bm25 = BM25.load(path, key, len(chunks)) if key else None
            if bm25 is None:
                bm25 = BM25([c.embed_text() for _, c in chunks])
                if key:
                    bm25.save(path, key)
        retriever = Retriever(chunks, index, embedder, config, bm25=bm25)
        answerer = LLMAnswerer(llm) if llm is not None and config.answer_mode != "extractive" else None
        return cls(retriever, config, embedder, answerer, report)

    async def search(self, query: str, *, top_k: int | None = None, context: Sequence[str] = ()) -> list[
            RetrievedChunk]:
        """The best chunks for ``query`` (earlier customer turns in ``context``, most recent last)."""
        return await self.retriever.search(query, top_k=top_k, context=context)

    async def answer(self, question: str, *, context: Sequence[str] = ()) -> KnowledgeAnswer:
        """A cited answer, or ``answered=False`` (empty text) when nothing grounds one."""
        asked = question
        question = self.retriever.vocabulary.repair(rewrite(question))
        chunks = await self.search(question, context=context,
                                   top_k=max(self.config.top_k, self.config.answer_candidates))
        if self.llm is not None:
            relevant = [c for c in chunks if c.similarity >= self.config.threshold]
            generated = await self._generated(asked, context, relevant, chunks) if relevant else None
            if generated is not None:
                return generated
        recent = [t for t in context if t.strip()][-self.config.context_turns:] if self.config.context_turns else []
        selection = await self.selector.select(
            question, recent, chunks, follow_up=self.retriever.is_follow_up(question, recent),
            max_sentences=self.config.max_answer_sentences)
        confident = max((c.similarity for c in chunks), default=-1.0) >= self.config.confident_similarity
        if selection is None or (selection.probability < self.config.answer_threshold and not confident):
            log.info("knowledge_no_answer", reason="no_candidate_answers",
                     best=round(selection.probability, 3) if selection else None,
                     similarity=round(max((c.similarity for c in chunks), default=0.0), 3))
            return KnowledgeAnswer(False, "", (), tuple(chunks), "none")
        chunk = selection.candidate.chunk
        text = selection.text
        if self.config.cite_in_text:
            text = f"{text}\n\n{source_line(chunk)}"
        log.info("knowledge_answered", mode="extractive", doc_id=chunk.doc_id,
                 probability=round(selection.probability, 3), similarity=round(chunk.similarity, 3))
        return KnowledgeAnswer(True, text, (Citation.of(chunk),), tuple(chunks), "extractive")

    async def _generated(self, question: str, context: Sequence[str], relevant: list[RetrievedChunk],
                         chunks: list[RetrievedChunk]) -> KnowledgeAnswer | None:
        """The LLM's grounded answer; ``None`` means fall back to the extractive answer."""
        assert self.llm is not None
        passages = relevant[:self.config.llm_passages]
        try:
            text = await self.llm.generate(question, context, passages)
        except ProviderError as exc:
            log.warning("knowledge_llm_failed", error=str(exc), permanent=exc.permanent)
            return None
        if text is None:
            log.info("knowledge_no_answer", reason="llm_found_nothing")
            return KnowledgeAnswer(False, "", (), tuple(chunks), "none")
        grounding = await check_grounding(text, [c.text for c in passages], self.embedder,
                                          threshold=self.config.grounding_threshold)
        if not grounding.grounded:
            problems = [f"{c.problem}: {c.sentence[:80]}" for c in grounding.sentences if c.problem]
            log.warning("knowledge_llm_ungrounded", problems=problems)
            return None
        citations = tuple(Citation.of(passages[n - 1]) for n in grounding.cited)
        log.info("knowledge_answered", mode="llm", cited=list(grounding.cited))
        return KnowledgeAnswer(True, text, citations, tuple(chunks), "llm")

    async def close(self) -> None:
        """Release the LLM client (the index is memory-mapped and needs nothing)."""
        if self.llm is not None:
            await self.llm.close()
