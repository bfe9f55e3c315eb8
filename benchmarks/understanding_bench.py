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
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from bot.app.runtime import train_understander
from bot.infra.embeddings import Embedder
from bot.project.loader import load_project
from evals.nlu import latency_percentiles, measure_latency

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo" / "project"


def summary(timings: list[float]) -> dict[str, float]:
    p50, p95 = latency_percentiles(timings)
    return {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3)}


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
    result = {
        "project": str(args.project), "turns": len(texts), "intents": len(set(e.intent for e in project.nlu.examples)),
        "lexical_weight": project.config.nlu.lexical_weight,
        "encoder": type(getattr(understander.classifier, "encoder", None)).__name__,
        "understand": summary(measure_latency(understander.understand, texts, runs=len(texts))),
        "classifier_only": summary(measure_latency(lambda t: understander.classifier.predict([t]), texts,
                                                   runs=len(texts))),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
