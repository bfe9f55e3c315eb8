"""Answer quality on the demo knowledge base's QA sets, through the served int8 ONNX encoder.

    python benchmarks/knowledge_qa.py [--sets qa_dev customer_dev] [--failures] [--out FILE]

Opens the demo knowledge base (``bot/demo/project/knowledge``) in a fresh temporary index with the encoder the
runtime serves (``ServingEncoder`` over the int8 ONNX export), runs :func:`evals.knowledge_answers.evaluate_answers`
on each QA set in ``evals/data/knowledge`` and prints JSON: answer accuracy, wrong/false-refusal rates, refusal
precision/recall per set. ``--failures`` adds the failed cases — use it on the ``*_dev`` sets only (the held-aside
sets are for reporting; reading their failures while tuning would make them development sets).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.infra.embeddings import ServingEncoder, shared_embedder  # noqa: E402
from bot.infra.logs import configure_logging  # noqa: E402
from bot.knowledge import KnowledgeBase, KnowledgeConfig  # noqa: E402
from bot.nlu.training import onnx_encoder_for  # noqa: E402
from evals.knowledge_answers import evaluate_answers, read_qa  # noqa: E402

QA = ROOT / "evals" / "data" / "knowledge"
DEMO = ROOT / "bot" / "demo" / "project"
SETS = ("qa_dev", "qa_holdout", "qa_heldaside", "customer_dev", "customer_heldaside")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=list(SETS))
    parser.add_argument("--failures", action="store_true", help="list failed cases (dev sets only)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    configure_logging(level="warning")
    embedder = shared_embedder()
    onnx = onnx_encoder_for(embedder.model_path, ROOT / ".careline" / "bench-onnx")
    if onnx is None:
        sys.exit("the int8 ONNX encoder is unavailable")
    encoder = ServingEncoder(onnx)
    result: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as folder:
        kb = KnowledgeBase.open(DEMO, KnowledgeConfig(), embedder=encoder, index_dir=Path(folder))
        for name in args.sets:
            report = asyncio.run(evaluate_answers(kb, read_qa(QA / f"{name}.yml")))
            data = report.to_dict(failures=500)
            if not args.failures or not name.endswith("_dev"):
                data.pop("failures")
            result[name] = data
            print(f"{name:20s} {report.summary()}", file=sys.stderr)
    text = json.dumps(result, indent=2)
    if args.out is not None:
        args.out.write_text(text + "\n")
    if args.failures:
        print(text)


if __name__ == "__main__":
    main()
