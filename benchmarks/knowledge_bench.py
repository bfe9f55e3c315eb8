"""Knowledge retriever benchmarks: prints numbers (run: python benchmarks/knowledge_bench.py [--quick]).

1. scale: index build time and search latency (p50/p95) at 1k / 10k / 100k synthetic chunks, exact (flat) vs
   HNSW, HNSW recall@10 against exact, and end-to-end ``Retriever.search`` latency (query encoding + FAISS +
   BM25 + rescoring). Vectors are synthetic (clustered, normalized 384-d); texts are random words.
2. calibration: the "don't know" threshold on the demo knowledge base (64 answerable / 35 unanswerable questions).
3. DSTC10 track 2 knowledge (Apache-2.0, ../shared/datasets/dstc10_track2_kb): a sample of hotel and restaurant
   entities; each FAQ *answer* is a document titled with its entity (the question is not indexed); queries are
   the FAQ questions with the entity's name replaced by "the hotel"/"the restaurant", the entity named in an
   earlier turn. Reports recall@1/@5 and MRR@5 with and without that context.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.infra.embeddings import shared_embedder
from bot.infra.logs import configure_logging
from bot.knowledge import KnowledgeBase, KnowledgeConfig
from bot.knowledge.index import build_index
from bot.knowledge.retriever import Retriever
from bot.knowledge.types import Chunk
from evals.knowledge import QueryCase, calibrate, evaluate_retrieval, read_queries

ROOT = Path(__file__).resolve().parents[1]
DSTC = ROOT.parent / "shared" / "datasets" / "dstc10_track2_kb" / "knowledge.json"
WORDS = [
    "sofa", "delivery", "refund", "return", "warranty", "clinic", "appointment", "parking", "insurance", "gift",
    "card", "store", "hours", "mattress", "table", "chair", "payment", "shipping", "order", "cancel", "fee",
    "days", "price", "vaccine", "portal", "record", "privacy"
]


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50) * 1000), float(np.percentile(samples, 95) * 1000)


def synthetic(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    centers = rng.standard_normal((max(n // 50, 10), dim)).astype(np.float32)
    vectors = centers[rng.integers(0, len(centers), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_scale(sizes: list[int]) -> None:
    embedder = shared_embedder()
    rng = np.random.default_rng(0)
    print("\n== scale (synthetic 384-d chunks; 200 single-query searches each) ==")
    print(f"{'chunks':>8} {'kind':>5} {'build s':>8} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>9}")
    for n in sizes:
        vectors = synthetic(n, embedder.dimension, rng)
        rows = np.arange(n, dtype=np.int64)
        queries = synthetic(200, embedder.dimension, rng)
        exact_ids = None
        for kind, threshold in (("flat", 0), ("hnsw", 1)):
            started = time.perf_counter()
            index = build_index(vectors, rows, hnsw_threshold=threshold)
            build = time.perf_counter() - started
            times, ids = [], []
            for q in queries:
                t = time.perf_counter()
                _, found = index.search(q[None, :], 10)
                times.append(time.perf_counter() - t)
                ids.append(found[0])
            if kind == "flat":
                exact_ids = ids
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids or ids, strict=True)])
            p50, p95 = percentiles(times)
            print(f"{n:>8} {kind:>5} {build:>8.2f} {p50:>7.2f} {p95:>7.2f} {recall:>9.3f}")
        config = KnowledgeConfig(hnsw_threshold=50_000)
        chunks = [(i, Chunk(f"doc{i // 10}", i % 10, f"Doc {i // 10}", f"doc{i // 10}.md", (f"Doc {i // 10}",), None,
                            "section", " ".join(random.Random(i).choices(WORDS, k=40)))) for i in range(n)]
        started = time.perf_counter()
        retriever = Retriever(chunks, build_index(vectors, rows, hnsw_threshold=config.hnsw_threshold), embedder,
                              config)
        setup = time.perf_counter() - started
        times = []
        for i in range(60):
            t = time.perf_counter()
            asyncio.run(retriever.search(f"how long does the {WORDS[i % len(WORDS)]} refund take", top_k=5))
            times.append(time.perf_counter() - t)
        p50, p95 = percentiles(times[10:])
        print(f"{n:>8} end-to-end search (encode + {retriever.index.kind} + BM25 + rescoring): p50 {p50:.1f} ms, "
              f"p95 {p95:.1f} ms; index+BM25 setup {setup:.2f} s")


def bench_calibration() -> None:
    data = ROOT / "tests" / "knowledge" / "data"
    answerable = read_queries(data / "demo_queries.jsonl")
    unanswerable = read_queries(data / "demo_unanswerable.jsonl")
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        kb = KnowledgeBase.open(ROOT / "bot" / "demo" / "project", KnowledgeConfig(), embedder=shared_embedder(),
                                index_dir=Path(folder))
        build = time.perf_counter() - started
        result = asyncio.run(calibrate(kb, answerable, unanswerable))
        report = asyncio.run(evaluate_retrieval(kb, answerable))
        no_context = asyncio.run(evaluate_retrieval(kb, answerable, use_context=False))
    print("\n== demo knowledge base ==")
    print(f"ingest: {kb.report.documents} documents, {kb.report.vectors} vectors, {build:.1f} s")
    print(f"retrieval: recall@1 {report.recall_at_1:.3f}  recall@5 {report.recall_at_5:.3f}"
          f"  MRR@5 {report.mrr_at_5:.3f}"
          f"  p50 {report.latency_p50_ms:.1f} ms  p95 {report.latency_p95_ms:.1f} ms"
          f"  (context ignored: recall@1 {no_context.recall_at_1:.3f})")
    print("calibration:", json.dumps(result.to_dict()))
    pos, neg = np.asarray(result.answerable_scores), np.asarray(result.unanswerable_scores)
    for threshold in (0.40, 0.44, 0.47, 0.49, 0.52, 0.55):
        print(f"  threshold {threshold:.2f}: answers {np.mean(pos >= threshold):.3f} of answerable, "
              f"refuses {np.mean(neg < threshold):.3f} of unanswerable")


def dstc_corpus(folder: Path, entities_per_domain: int, queries: int, seed: int = 7) -> list[QueryCase]:
    data = json.loads(DSTC.read_text())
    rng = random.Random(seed)
    cases: list[QueryCase] = []
    for domain, noun in (("hotel", "the hotel"), ("restaurant", "the restaurant")):
        for entity_id in rng.sample(sorted(data[domain]), entities_per_domain):
            entity = data[domain][entity_id]
            name = entity["name"]
            for doc_id, doc in entity["docs"].items():
                path = folder / domain / entity_id / f"{doc_id}.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"# {name.title()}\n\n{doc['body']}\n")
                question = re.sub(re.escape(name), noun, doc["title"], flags=re.IGNORECASE)
                cases.append(QueryCase(question, (f"{domain}/{entity_id}/{doc_id}",),
                                       (f"I'm interested in {name.title()}.",)))
    rng.shuffle(cases)
    return cases[:queries]


def bench_dstc(entities_per_domain: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as docs, tempfile.TemporaryDirectory() as index:
        cases = dstc_corpus(Path(docs), entities_per_domain, queries)
        started = time.perf_counter()
        kb = KnowledgeBase.open(Path(docs), KnowledgeConfig(), embedder=shared_embedder(), index_dir=Path(index),
                                knowledge_dir=Path(docs))
        build = time.perf_counter() - started
        print(f"\n== DSTC10 track 2 sample: {kb.report.documents} answer documents "
              f"({entities_per_domain} hotels + {entities_per_domain} restaurants), {len(cases)} queries; "
              f"ingest {build:.1f} s ==")
        for label, config in (("hybrid", KnowledgeConfig()), ("dense only", KnowledgeConfig(hybrid=False))):
            kb.retriever = Retriever(list(zip(kb.retriever.chunk_ids.tolist(), kb.retriever.chunks, strict=True)),
                                     kb.retriever.index, kb.embedder, config)
            for use_context in (True, False):
                r = asyncio.run(evaluate_retrieval(kb, cases, use_context=use_context))
                print(f"{label:>10}, context {'on ' if use_context else 'off'}: recall@1 {r.recall_at_1:.3f}  "
                      f"recall@5 {r.recall_at_5:.3f}  MRR@5 {r.mrr_at_5:.3f}  p50 {r.latency_p50_ms:.1f} ms  "
                      f"p95 {r.latency_p95_ms:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k chunks only; a smaller DSTC sample")
    parser.add_argument("--only", choices=("scale", "calibration", "dstc"), default=None)
    args = parser.parse_args()
    configure_logging(level="warning")
    if args.only in (None, "scale"):
        bench_scale([1_000, 10_000] if args.quick else [1_000, 10_000, 100_000])
    if args.only in (None, "calibration"):
        bench_calibration()
    if args.only in (None, "dstc"):
        bench_dstc(10 if args.quick else 25, 150 if args.quick else 400)


if __name__ == "__main__":
    main()
