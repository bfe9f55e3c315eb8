"""The in-process floor of a text turn: one int8-ONNX MiniLM encode plus one FAISS search of the knowledge
index, through the objects the server builds (:func:`bot.nlu.training.onnx_encoder_for`, the knowledge base's
:class:`~bot.knowledge.index.VectorIndex`), with the retriever's candidate count."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._load.scripts import KNOWLEDGE_QUESTIONS
from benchmarks._load.stats import percentiles_ms


@dataclass
class Floor:
    """The served encoder and index, loaded once (``load``), timed later (``measure``)."""

    encoder: Any
    index: Any
    wanted: int

    @classmethod
    def load(cls, project_path: Path) -> Floor:
        """Load the project's int8 ONNX encoder and knowledge index (exporting/building them when missing)."""
        from bot.infra.cache import cache_dir
        from bot.infra.embeddings import shared_embedder
        from bot.knowledge import KnowledgeBase
        from bot.knowledge.retriever import MIN_CANDIDATES
        from bot.nlu.training import onnx_encoder_for
        from bot.project import load_project

        project = load_project(project_path)
        embedder = shared_embedder()
        encoder = onnx_encoder_for(embedder.model_path, cache_dir(project.path, "nlu"))
        if encoder is None:
            raise RuntimeError("the int8 ONNX encoder could not be exported or loaded (see the log above)")
        kb = KnowledgeBase.open(project.path, project.config.knowledge, embedder=embedder)
        return cls(encoder, kb.retriever.index, max(project.config.knowledge.top_k * 10, MIN_CANDIDATES))

    def measure(self, *, calls: int = 300, warmup: int = 20) -> dict[str, Any]:
        """p50 (and p95/p99) of encode + search over ``calls`` single questions, and of each part alone."""
        return _measure(self.encoder, self.index, self.wanted, calls, warmup)


def _measure(encoder: Any, index: Any, wanted: int, calls: int, warmup: int) -> dict[str, Any]:
    questions = list(KNOWLEDGE_QUESTIONS)
    total: list[float] = []
    encode: list[float] = []
    search: list[float] = []
    for i in range(warmup + calls):
        text = questions[i % len(questions)]
        started = time.perf_counter()
        vector = encoder.encode([text])
        encoded = time.perf_counter()
        index.search(vector, wanted)
        done = time.perf_counter()
        if i >= warmup:
            total.append(done - started)
            encode.append(encoded - started)
            search.append(done - encoded)
    floor = percentiles_ms(total)
    return {
        "floor_ms": floor["p50_ms"],
        "calls": calls,
        "total": floor,
        "encode": percentiles_ms(encode),
        "faiss_search": percentiles_ms(search),
        "index": {"kind": index.kind, "size": index.size, "k": wanted},
        "encoder": Path(str(getattr(encoder, "model_path", "?"))).name,
    }
