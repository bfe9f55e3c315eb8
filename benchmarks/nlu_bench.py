"""NLU benchmark: BANKING77 (20 % of train held back) and CLINC150 (val), torch vs int8 ONNX.

    python benchmarks/nlu_bench.py [--finetune-epochs 3] [--only banking77|clinc150] [--out report.json]

``--finetune-epochs`` applies to BANKING77; CLINC150 keeps the frozen encoder (see :func:`run`).
``--banking77-splits 5`` adds four more random holdouts to show how much one split's number moves.

The classifier is the served one (embedding logistic regression averaged with the lexical TF-IDF
model, see :mod:`bot.nlu.embedding_classifier`). Tuning happens on parts of train only: the lexical
weight on 10 % of BANKING77's 80 % part; CLINC150's out-of-scope threshold is the lowest whose
out-of-fold recall over train.csv reaches 70 % (:data:`evals.nlu.OOS_RECALL_TARGET`); val is
never looked at (the official test splits are held out by the evaluators). Set ``CARELINE_CACHE_DIR`` to keep the
fitted models and ONNX exports apart from the user cache.
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

from evals.nlu import evaluate_intents, read_csv, split_holdout

DATASETS = Path(os.environ.get("CARELINE_DATASETS", "/work/shared/datasets"))


def run(name: str, finetune_epochs: int, split_seed: int = 0) -> dict[str, object]:
    started = time.perf_counter()
    if name == "banking77":
        train, test = split_holdout(read_csv(DATASETS / "banking77" / "train.csv"), 0.2, seed=split_seed)
        reports = evaluate_intents(train, test, finetune_epochs=finetune_epochs)
    else:
        train = read_csv(DATASETS / "clinc150" / "train.csv")
        test = read_csv(DATASETS / "clinc150" / "val.csv")
        # frozen encoder: the out-of-scope threshold is read off train, which a fine-tuned encoder has seen
        reports = evaluate_intents(train, test, oos_label="oos")
        finetune_epochs = 0
    out: dict[str, object] = {k: v.to_dict() for k, v in reports.items()}
    if "onnx" in reports and "torch" in reports:
        out["onnx_accuracy_delta"] = round(reports["onnx"].accuracy - reports["torch"].accuracy, 4)
    out["seconds"] = round(time.perf_counter() - started, 1)
    out["finetune_epochs"] = finetune_epochs
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--finetune-epochs", type=int, default=0)
    parser.add_argument("--only", choices=["banking77", "clinc150"], default=None)
    parser.add_argument("--banking77-splits", type=int, default=1,
                        help="Also score BANKING77 on this many random 20 %% holdouts (seeds 0..N-1; 0 is the reported "
                             "one) and print their spread.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    results = {name: run(name, args.finetune_epochs) for name in ("banking77", "clinc150")
               if args.only in (None, name)}
    if "banking77" in results and args.banking77_splits > 1:
        accuracies = [results["banking77"]["torch"]["accuracy"]]  # type: ignore[index]
        for seed in range(1, args.banking77_splits):
            accuracies.append(run("banking77", args.finetune_epochs, seed)["torch"]["accuracy"])  # type: ignore[index]
        results["banking77_splits"] = {"torch_accuracy": accuracies, "mean": round(statistics.fmean(accuracies), 4),
                                       "min": min(accuracies), "max": max(accuracies)}
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
