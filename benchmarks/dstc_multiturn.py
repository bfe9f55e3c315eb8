"""Multi-turn spoken retrieval over the DSTC9/10 track 2 knowledge base (Apache-2.0, 12,039 snippets).

Run: ``python benchmarks/dstc_multiturn.py [--write-queries] [--sample N] [--json PATH]``

Corpus: every snippet is one document ``{domain}/{entity_id}/{doc_id}`` titled with its entity (``# Acorn Guest
House`` / ``## Do you have parking?`` / answer); domain-wide taxi and train snippets are titled with the domain.
Queries (``evals/data/knowledge/dstc_multiturn_dev.jsonl``, written by ``--write-queries``, seed 18;
``dstc_multiturn_heldaside.jsonl``, seed 1818, is run only for reporting): the customer names the entity only in an
earlier turn, in a spoken form (lower case, no punctuation, speech-recognition slips: a split or merged word, a
dropped or doubled letter, "n" for "and"), then talks about something else, then asks the knowledge question with
"they"/"there"/"the place" or nothing in place of the name. The question is either the snippet's own question re-
spoken or one of our own paraphrases for common topics (wifi, parking, pets, cards...), whose relevant set is every
snippet of that entity on the topic. The evaluators' validation dialogues are not used (they hold them).

Prints recall@1/@5 and MRR@5 with and without context and with entity tracking on and off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.infra.embeddings import ServingEncoder, shared_embedder
from bot.infra.logs import configure_logging
from bot.knowledge import KnowledgeBase, KnowledgeConfig
from bot.knowledge.retriever import Retriever
from bot.nlu.training import onnx_encoder_for
from evals.knowledge import evaluate_retrieval, read_queries

ROOT = Path(__file__).resolve().parents[1]
DSTC = ROOT.parent / "shared" / "datasets" / "dstc10_track2_kb" / "knowledge.json"
QUERIES = ROOT / "evals" / "data" / "knowledge" / "dstc_multiturn_dev.jsonl"

TOPICS: dict[str, tuple[str, tuple[str, ...]]] = {
    "wifi": (r"\bwi-?fi\b|internet", ("can i get on the internet there", "is the wifi free", "do they have wi fi",
                                      "will i be able to use wifi")),
    "parking": (r"\bpark", ("is there somewhere to leave the car", "can i park there", "what about parking",
                            "do they have a car park")),
    "pets": (r"\bpets?\b|\bdogs?\b", ("can i bring my dog along", "are pets ok there", "is it dog friendly")),
    "cards": (r"credit card", ("do they take credit cards", "can i pay by card there", "do they accept visa")),
    "reservation": (r"reserv|book a table", ("can i book ahead", "do they do reservations",
                                             "should i reserve a table first")),
    "outdoor": (r"outdoor|outside|patio", ("can we sit outside", "is there seating outdoors")),
    "alcohol": (r"alcohol|\bbar\b|beer|wine", ("can i get a drink there", "do they serve beer and wine")),
    "checkin": (r"check.?in", ("what time can i check in", "when is check in")),
    "smoking": (r"smok", ("can i smoke there", "is there a smoking area")),
    "vegetarian": (r"vegetarian|vegan|meatless", ("do they have veggie food", "anything for vegetarians")),
    "applepay": (r"apple pay", ("can i use apple pay", "do they take apple pay")),
    "breakfast": (r"breakfast", ("is breakfast included", "what do they do for breakfast")),
}
OPENERS = {
    "hotel": ("i'm looking at staying at {name}", "can you book me a room at {name}", "tell me about {name}",
              "i need a place to stay maybe {name}", "what area is {name} in"),
    "restaurant": ("i'd like a table at {name}", "what kind of food does {name} do", "i'm thinking of eating at {name}",
                   "can you find {name} for me", "is {name} expensive"),
    "attraction": ("i want to visit {name}", "where is {name}", "tell me about {name}"),
}
MIDDLE = ("for two people on friday", "yes that sounds good", "how far is it from the centre", "okay great",
          "three nights from saturday please", "for four at seven thirty", "what's the phone number",
          "is it in the north", "cheap if possible", "hmm let me think")
REFERS = ("they", "there", "the place", "it")


def spoken(name: str, rng: random.Random) -> str:
    """``name`` as a speech recognizer might write it: lower case, no punctuation, sometimes a slip."""
    text = re.sub(r"[^a-z0-9 ]", " ", name.lower().replace("&", " and ").replace("'", ""))
    tokens = text.split()
    slip = rng.random()
    long_words = [i for i, t in enumerate(tokens) if len(t) >= 6]
    if slip < 0.2 and long_words:
        i = rng.choice(long_words)
        cut = rng.randint(2, len(tokens[i]) - 2)
        tokens[i] = f"{tokens[i][:cut]} {tokens[i][cut:]}"
    elif slip < 0.35 and long_words:
        i = rng.choice(long_words)
        j = rng.randint(1, len(tokens[i]) - 2)
        tokens[i] = tokens[i][:j] + tokens[i][j + 1:]
    elif slip < 0.45 and len(tokens) > 1:
        i = rng.randrange(len(tokens) - 1)
        tokens[i:i + 2] = [tokens[i] + tokens[i + 1]]
    elif slip < 0.55 and long_words:
        i = rng.choice(long_words)
        j = rng.randint(1, len(tokens[i]) - 1)
        tokens[i] = tokens[i][:j] + tokens[i][j] + tokens[i][j:]
    elif slip < 0.65:
        tokens = ["n" if t == "and" else t for t in tokens]
    if tokens and tokens[0] == "the" and rng.random() < 0.5:
        tokens = tokens[1:]
    return " ".join(tokens)


def respoken_question(title: str, name: str, rng: random.Random) -> str:
    """The snippet's question without the entity's name, lower case, no punctuation."""
    pattern = re.compile(re.escape(name).replace(r"\ ", r"\s+"), re.IGNORECASE)
    text = pattern.sub(rng.choice(REFERS), title)
    text = re.sub(r"\b(?:this|the|your) (?:hotel|restaurant|property|location|site|place)\b", rng.choice(REFERS),
                  text, flags=re.IGNORECASE)
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def write_corpus(folder: Path) -> dict[str, dict[str, dict[str, str | dict[str, dict[str, str]]]]]:
    """One markdown file per snippet under ``folder``; returns the knowledge JSON."""
    data: dict[str, dict[str, dict[str, str | dict[str, dict[str, str]]]]] = json.loads(DSTC.read_text())
    for domain, entities in data.items():
        for entity_id, entity in entities.items():
            name = str(entity["name"] or domain.capitalize())
            docs = entity["docs"]
            assert isinstance(docs, dict)
            for doc_id, doc in docs.items():
                path = folder / domain / ("all" if entity_id == "*" else entity_id) / f"{doc_id}.md"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"# {name}\n\n## {doc['title'].strip()}\n\n{doc['body'].strip()}\n", encoding="utf-8")
    return data


def make_queries(data: dict, count: int, seed: int = 18) -> list[dict[str, object]]:  # type: ignore[type-arg]
    """``count`` multi-turn cases (see the module docstring)."""
    rng = random.Random(seed)
    rows: list[dict[str, object]] = []
    pool = [(d, e) for d in ("hotel", "restaurant", "attraction") for e in sorted(data[d])]
    while len(rows) < count:
        domain, entity_id = rng.choice(pool)
        entity = data[domain][entity_id]
        name = entity["name"]
        docs = entity["docs"]
        opener = rng.choice(OPENERS[domain]).format(name=spoken(name, rng))
        context = [opener, *rng.sample(MIDDLE, rng.choice((0, 1, 2, 3, 4)))]
        if rng.random() < 0.5:
            pattern, phrasings = rng.choice(list(TOPICS.values()))
            relevant = [f"{domain}/{entity_id}/{d}" for d, doc in docs.items()
                        if re.search(pattern, f"{doc['title']} {doc['body']}", re.IGNORECASE)]
            if not relevant:
                continue
            query = rng.choice(phrasings)
        else:
            doc_id = rng.choice(sorted(docs))
            query = respoken_question(docs[doc_id]["title"], name, rng)
            relevant = [f"{domain}/{entity_id}/{doc_id}"]
        rows.append({"query": query, "context": context, "relevant": relevant})
    return rows


def run(queries: Path, sample: int | None, as_json: Path | None, *, fresh: bool) -> None:
    embedder = shared_embedder()
    onnx = onnx_encoder_for(embedder.model_path, ROOT / ".careline" / "bench-onnx")
    encoder = ServingEncoder(onnx if onnx is not None else embedder)
    cases = read_queries(queries)
    if sample:
        cases = cases[:sample]
    results: dict[str, object] = {}
    work = ROOT / ".careline" / "dstc-bench"
    docs, index = work / "corpus", work / "index"
    if fresh:
        shutil.rmtree(work, ignore_errors=True)
    if not docs.is_dir():
        write_corpus(docs)
    started = time.perf_counter()
    kb = KnowledgeBase.open(docs, KnowledgeConfig(), embedder=encoder, index_dir=index,
                            knowledge_dir=docs)
    ingest = time.perf_counter() - started
    print(f"DSTC10 track 2: {kb.report.documents} snippets, {kb.report.vectors} vectors, ingest {ingest:.1f} s; "
          f"{len(cases)} multi-turn queries")
    results["ingest_seconds"] = round(ingest, 1)
    pairs = list(zip(kb.retriever.chunk_ids.tolist(), kb.retriever.chunks, strict=True))
    for label, config in (("entities on", KnowledgeConfig(entity_tracking=True)),
                          ("entities off", KnowledgeConfig(entity_tracking=False))):
        kb.retriever = Retriever(pairs, kb.retriever.index, encoder, config)
        for use_context in (True, False):
            if not use_context and label == "entities off":
                continue
            r = asyncio.run(evaluate_retrieval(kb, cases, use_context=use_context))
            key = f"{label}, context {'on' if use_context else 'off'}"
            print(f"{key:>28}: recall@1 {r.recall_at_1:.3f}  recall@5 {r.recall_at_5:.3f}  MRR@5 {r.mrr_at_5:.3f}"
                  f"  p50 {r.latency_p50_ms:.1f} ms  p95 {r.latency_p95_ms:.1f} ms")
            results[key] = r.to_dict()
    if as_json is not None:
        as_json.write_text(json.dumps(results, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-queries", type=int, default=0, metavar="N", help="write N queries and exit")
    parser.add_argument("--seed", type=int, default=18, help="seed for --write-queries")
    parser.add_argument("--queries", type=Path, default=QUERIES, help="the query file to write or evaluate")
    parser.add_argument("--sample", type=int, default=None, help="evaluate the first N queries only")
    parser.add_argument("--fresh", action="store_true", help="rebuild the corpus and index (measures ingest)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    configure_logging(level="warning")
    if args.write_queries:
        rows = make_queries(json.loads(DSTC.read_text()), args.write_queries, seed=args.seed)
        args.queries.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"wrote {len(rows)} queries to {args.queries}")
        return
    run(args.queries, args.sample, args.json, fresh=args.fresh)


if __name__ == "__main__":
    main()
