"""Per-turn understanding latency of the demo project, as served (int8 ONNX encoder, classifier, entities).

    python benchmarks/understanding_bench.py [--project bot/demo/project] [--turns 400]

Prints JSON: p50/p95 milliseconds of ``Understander.understand`` (one message, as a turn sees it) and of
the classifier alone, over the project's own NLU examples rephrased as customers type them (lower case,
a few words added), after a warm-up. Run it on a quiet machine: on 2 cores a concurrent job doubles it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.embeddings import Embedder
from bot.project.loader import load_project
from bot.runtime import train_understander

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo" / "project"


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": round(statistics.median(ordered), 3),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 3)}


def timed(call: object, texts: list[str]) -> list[float]:
    out = []
    for text in texts:
        started = time.perf_counter()
        call(text)  # type: ignore[operator]
        out.append((time.perf_counter() - started) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--project", type=Path, default=DEMO)
    parser.add_argument("--turns", type=int, default=400)
    args = parser.parse_args()
    project = load_project(args.project)
    understander = train_understander(project, Embedder())
    examples = [e.text for e in project.nlu.examples]
    texts = [(f"hi, {t.lower()} please" if i % 2 else t) for i, t in enumerate(examples)]
    texts = (texts * (args.turns // max(1, len(texts)) + 1))[: args.turns]
    timed(understander.understand, texts[:20])
    result = {
        "project": str(args.project), "turns": len(texts), "intents": len(set(e.intent for e in project.nlu.examples)),
        "lexical_weight": project.config.nlu.lexical_weight,
        "encoder": type(getattr(understander.classifier, "encoder", None)).__name__,
        "understand": percentiles(timed(understander.understand, texts)),
        "classifier_only": percentiles(timed(lambda t: understander.classifier.predict([t]), texts)),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
