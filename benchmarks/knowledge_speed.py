"""Knowledge speed on the 12,039-snippet DSTC10 track 2 corpus, through the served int8 ONNX encoder.

Run after ``python benchmarks/dstc_multiturn.py`` (which writes the corpus and its index under
``.careline/dstc-bench``): ``python benchmarks/knowledge_speed.py [--out benchmarks/knowledge_speed.json]``

- ingest: a fresh ingest of ``--ingest-docs`` snippet documents (chunks/s), against the floor of encoding
  the same texts in one call of the encoder (texts/s);
- start: opening the full 12k index with nothing changed, with the BM25 postings loaded from disk and rebuilt;
- query: ``KnowledgeBase.search`` p50/p95 over the multi-turn dev queries in one event loop (question + earlier
  turns: two or three texts encoded, the memo cleared first), against the in-process floor of one encode plus
  one FAISS search (:mod:`benchmarks._load.floor`'s definition).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.dstc_multiturn import QUERIES, ROOT
from bot.infra.embeddings import ServingEncoder, shared_embedder
from bot.infra.logs import configure_logging
from bot.knowledge import KnowledgeBase, KnowledgeConfig
from bot.knowledge.ingest import embed_texts
from bot.knowledge.retriever import MIN_CANDIDATES
from bot.nlu.training import onnx_encoder_for
from evals.knowledge import read_queries

WORK = ROOT / ".careline" / "dstc-bench"


def ms(samples: list[float]) -> tuple[float, float]:
    return round(float(np.percentile(samples, 50)) * 1000, 2), round(float(np.percentile(samples, 95)) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ingest-docs", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    configure_logging(level="warning")
    docs, index = WORK / "corpus", WORK / "index"
    if not (index / "manifest.json").exists():
        sys.exit("run benchmarks/dstc_multiturn.py first (it writes the corpus and index)")
    embedder = shared_embedder()
    onnx = onnx_encoder_for(embedder.model_path, ROOT / ".careline" / "bench-onnx")
    if onnx is None:
        sys.exit("the int8 ONNX encoder is unavailable")
    result: dict[str, object] = {"corpus": "DSTC10 track 2 knowledge.json, one document per snippet",
                                 "cpu_count": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}

    files = sorted(docs.rglob("*.md"))[:args.ingest_docs]
    with tempfile.TemporaryDirectory() as subset, tempfile.TemporaryDirectory() as subset_index:
        for path in files:
            target = Path(subset) / path.relative_to(docs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
        started = time.perf_counter()
        kb = KnowledgeBase.open(Path(subset), KnowledgeConfig(), embedder=ServingEncoder(onnx),
                                index_dir=Path(subset_index), knowledge_dir=Path(subset))
        seconds = time.perf_counter() - started
        texts = [t for c in kb.retriever.chunks for t in embed_texts(c)]
        started = time.perf_counter()
        onnx.encode(texts)
        floor = time.perf_counter() - started
    result["ingest"] = {"documents": len(files), "chunks": len(kb.retriever.chunks), "texts_embedded": len(texts),
                        "seconds": round(seconds, 2), "chunks_per_s": round(len(kb.retriever.chunks) / seconds, 1),
                        "floor_texts_per_s": round(len(texts) / floor, 1),
                        "ratio_to_floor": round(seconds / floor, 2)}

    encoder = ServingEncoder(onnx)
    timings = {}
    for label, remove in (("lexical_loaded", False), ("lexical_rebuilt", True)):
        if remove:
            (index / "lexical.npz").unlink(missing_ok=True)
        started = time.perf_counter()
        kb = KnowledgeBase.open(docs, KnowledgeConfig(), embedder=encoder, index_dir=index, knowledge_dir=docs)
        timings[label] = round(time.perf_counter() - started, 2)
    result["start_12k_seconds"] = timings

    cases = read_queries(QUERIES)[:args.queries]
    wanted = max(KnowledgeConfig().top_k * 10, MIN_CANDIDATES)

    async def timed() -> tuple[list[float], list[float]]:
        searches, floors = [], []
        for case in cases:  # one event loop for all, as in the server
            encoder._memo.clear()
            started = time.perf_counter()
            await kb.search(case.query, context=case.context)
            searches.append(time.perf_counter() - started)
            started = time.perf_counter()
            vector = onnx.encode([case.query])
            kb.retriever.index.search(vector, wanted)
            floors.append(time.perf_counter() - started)
        return searches, floors

    searches, floors = asyncio.run(timed())
    p50, p95 = ms(searches)
    f50, f95 = ms(floors)
    result["query"] = {"queries": len(cases), "chunks": len(kb.retriever.chunks), "p50_ms": p50, "p95_ms": p95,
                       "floor_p50_ms": f50, "floor_p95_ms": f95, "ratio_p50_to_floor": round(p50 / f50, 2)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
