"""Train the emotion head on GoEmotions: ``python -m bot.guardrails.emotion_training DATA_DIR``.

GoEmotions (Demszky et al., ACL 2020; Apache-2.0) labels 58k Reddit comments with 27 emotions. We fold
them into the three a support desk acts on (the Ekman grouping, minus joy and surprise):

- ``anger``: anger, annoyance, disapproval, disgust
- ``sadness``: sadness, grief, disappointment, remorse (distress, bereavement)
- ``fear``: fear, nervousness

One logistic regression per label (class-balanced) on the MiniLM embeddings, fitted on 90% of
``train.tsv``; the other 10% picks each label's operating point (best F1), and the bias is shifted so
that point scores 0.6, the policy's default ``offer_human`` threshold. ``dev.tsv`` is never seen in
training or tuning: the precision and recall stored in the head are measured on it. (The official
test split stays held out.)
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bot.guardrails.emotion import BUNDLED_HEAD, EmotionHead
from bot.infra.logs import get_logger
from bot.nlu.base import Encoder

log = get_logger(__name__)

GROUPS = {
    "anger": ("anger", "annoyance", "disapproval", "disgust"),
    "sadness": ("sadness", "grief", "disappointment", "remorse"),
    "fear": ("fear", "nervousness"),
}
OPERATING_POINT = 0.6


def read_split(data_dir: Path, split: str) -> tuple[list[str], np.ndarray]:
    """Texts and a (n, len(GROUPS)) 0/1 label matrix of one GoEmotions split."""
    names = (data_dir / "emotions.txt").read_text().split()
    texts, rows = [], []
    for line in (data_dir / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, ids, _ = line.split("\t")
        emotions = {names[int(i)] for i in ids.split(",")}
        texts.append(text)
        rows.append([int(bool(emotions & set(members))) for members in GROUPS.values()])
    return texts, np.asarray(rows, dtype=np.int8)


def embed_cached(encoder: Encoder, texts: list[str], cache: Path | None) -> np.ndarray:
    """Embeddings of ``texts``, read from / written to ``cache`` keyed by the texts' hash."""
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:20]
    file = cache / f"goemotions-{key}.npy" if cache else None
    if file is not None and file.exists():
        return np.load(file)
    vectors = encoder.encode(texts)
    if file is not None:
        np.save(file, vectors)
    return vectors


def prf(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Precision, recall, F1 and support of 0/1 arrays."""
    tp = int(np.sum((truth == 1) & (predicted == 1)))
    precision = tp / max(1, int(predicted.sum()))
    recall = tp / max(1, int(truth.sum()))
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    return {"precision": round(precision, 3), "recall": round(recall, 3), "f1": round(f1, 3),
            "support": int(truth.sum())}


def _logit(p: float) -> float:
    return float(np.log(p / (1 - p)))


def train_head(data_dir: Path, encoder: Encoder, *, cache: Path | None = None, c: float = 1.0,
               seed: int = 13) -> EmotionHead:
    """Fit, tune and evaluate the head (see the module docstring)."""
    from sklearn.linear_model import LogisticRegression

    texts, labels = read_split(data_dir, "train")
    vectors = embed_cached(encoder, texts, cache)
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(0.9 * len(texts))
    fit, tune = order[:cut], order[cut:]
    weights, biases, tuning = [], [], {}
    for index, label in enumerate(GROUPS):
        model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
        model.fit(vectors[fit], labels[fit, index])
        probabilities = model.predict_proba(vectors[tune])[:, 1]
        best = max(np.arange(0.3, 0.96, 0.01),
                   key=lambda t: prf(labels[tune, index], (probabilities >= t).astype(np.int8))["f1"])
        shift = _logit(OPERATING_POINT) - _logit(float(best))
        weights.append(model.coef_[0])
        biases.append(float(model.intercept_[0]) + shift)
        tuning[label] = round(float(best), 2)
    head = EmotionHead(tuple(GROUPS), np.asarray(weights, dtype=np.float32), np.asarray(biases, dtype=np.float32),
                       {})
    dev_texts, dev_labels = read_split(data_dir, "dev")
    dev_scores = head.scores(embed_cached(encoder, dev_texts, cache))
    predicted = (dev_scores >= OPERATING_POINT).astype(np.int8)
    metrics: dict[str, Any] = {label: prf(dev_labels[:, i], predicted[:, i]) for i, label in enumerate(GROUPS)}
    metrics["any_negative"] = prf(dev_labels.max(axis=1), predicted.max(axis=1))
    info = {
        "dataset": "GoEmotions train.tsv (90% fit, 10% operating point); metrics on dev.tsv (held out)",
        "groups": {k: list(v) for k, v in GROUPS.items()},
        "encoder": str(getattr(encoder, "model_path", type(encoder).__name__)).rsplit("/", 1)[-1],
        "c": c, "seed": seed, "operating_point": OPERATING_POINT, "tuned_probability": tuning,
        "dev_metrics": metrics,
    }
    log.info("emotion_head_trained", examples=len(fit), **{k: v["f1"] for k, v in metrics.items()})
    return EmotionHead(head.labels, head.weights, head.bias, info)


def main(argv: list[str]) -> None:
    """Train on ``argv[0]`` (the GoEmotions folder) and write the bundled head (or ``argv[1]``)."""
    from bot.infra.cache import cache_dir
    from bot.infra.embeddings import shared_embedder

    data_dir = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else BUNDLED_HEAD
    head = train_head(data_dir, shared_embedder(), cache=cache_dir(data_dir, "guardrails"))
    head.save(out)
    print(json.dumps(head.info["dev_metrics"], indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
