"""Train the emotion model on GoEmotions: ``python -m bot.guardrails.emotion_training DATA_DIR [OUT]``.

GoEmotions (Demszky et al., ACL 2020; Apache-2.0) labels 58k Reddit comments with 27 emotions. A comment
"needs a person's care" when it carries any of :data:`CARE`, folded into the three groups a support desk
acts on: ``anger`` (anger, annoyance, disgust), ``sadness`` (sadness, grief, disappointment) and ``fear``
(fear, nervousness). Disapproval and remorse are not care (a customer who disagrees or apologises needs no
person for it).

Vectors are the served encoder's (the int8 ONNX export of all-MiniLM-L6-v2), so training sees what a turn
sees. ``train.tsv`` is cut 90/10 by a fixed seed: the 90% fits the three parts of
:class:`~bot.guardrails.emotion.EmotionModel` (an MLP over the vector, tf-idf logistic regression over
words, the group chooser over care examples); the 10% picks the blend weight and the operating point (best
F1) and fits the Platt slope. ``dev.tsv`` is split by a hash of the comment id: 60% (:func:`dev_part`
``"select"``) is where configurations were compared, 40% (``"aside"``) was scored once, at the end. Both
results are stored in the model's ``info``. The official test split stays held out.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bot.guardrails.emotion import BUNDLED_MODEL, EmotionModel, words
from bot.infra.embeddings import Encoder
from bot.infra.logs import get_logger

log = get_logger(__name__)

GROUPS = {
    "anger": ("anger", "annoyance", "disgust"),
    "sadness": ("sadness", "grief", "disappointment"),
    "fear": ("fear", "nervousness"),
}
CARE = frozenset(e for members in GROUPS.values() for e in members)
#: The policy's default ``offer_human`` thresholds (bot.project.schema.default_policy_rules).
OPERATING_POINTS = {"anger": 0.7, "sadness": 0.75, "fear": 0.75}
BLENDS = (0.2, 0.3, 0.4, 0.5, 0.6)


def dev_part(comment_id: str) -> str:
    """``"aside"`` for the 40% of dev kept for one final look (by the comment id's hash), else ``"select"``."""
    return "aside" if int(hashlib.sha256(comment_id.encode()).hexdigest(), 16) % 10 < 4 else "select"


def read_split(data_dir: Path, split: str) -> tuple[list[str], np.ndarray, list[str]]:
    """Texts, a (n, len(GROUPS)) 0/1 matrix of care groups, and the comment ids of one GoEmotions split."""
    names = (data_dir / "emotions.txt").read_text().split()
    texts, rows, ids = [], [], []
    for line in (data_dir / f"{split}.tsv").read_text(encoding="utf-8").splitlines():
        text, labels, comment = line.split("\t")
        emotions = {names[int(i)] for i in labels.split(",")}
        texts.append(text)
        ids.append(comment)
        rows.append([int(bool(emotions & set(members))) for members in GROUPS.values()])
    return texts, np.asarray(rows, dtype=np.int8), ids


def embed_cached(encoder: Encoder, texts: list[str], cache: Path | None) -> np.ndarray:
    """Embeddings of ``texts``, read from / written to ``cache`` keyed by the encoder and the texts' hash."""
    key = hashlib.sha256("\n".join([str(encoder.model_path), *texts]).encode()).hexdigest()[:20]
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


def _best_threshold(truth: np.ndarray, logits: np.ndarray) -> tuple[float, float]:
    """(F1, threshold) of the best cut of ``logits`` (over its 50th..97th percentiles)."""
    cuts = np.quantile(logits, np.linspace(0.5, 0.97, 95))
    scored = [(prf(truth, (logits >= t).astype(np.int8))["f1"], float(t)) for t in cuts]
    return max(scored)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def train_model(data_dir: Path, encoder: Encoder, *, cache: Path | None = None, hidden: int = 256,
                alpha: float = 1e-3, c_words: float = 1.0, seed: int = 13, aside: bool = False) -> EmotionModel:
    """Fit, tune and evaluate the model (see the module docstring)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    texts, groups, _ = read_split(data_dir, "train")
    care = groups.max(axis=1)
    vectors = embed_cached(encoder, texts, cache)
    order = np.random.default_rng(seed).permutation(len(texts))
    cut = int(0.9 * len(texts))
    fit, tune = order[:cut], order[cut:]

    network = MLPClassifier(hidden_layer_sizes=(hidden,), alpha=alpha, early_stopping=True, max_iter=200,
                            random_state=seed).fit(vectors[fit], care[fit])
    tfidf = TfidfVectorizer(analyzer=words, min_df=2, sublinear_tf=True)
    word_matrix = tfidf.fit_transform([texts[i] for i in fit])
    lexical = LogisticRegression(C=c_words, class_weight="balanced", max_iter=3000).fit(word_matrix, care[fit])
    positive = fit[care[fit] == 1]
    chooser = LogisticRegression(C=1.0, max_iter=3000).fit(vectors[positive], np.argmax(groups[positive], axis=1))

    vocabulary = {str(w): int(i) for w, i in tfidf.vocabulary_.items()}
    model = EmotionModel(
        tuple(GROUPS), network.coefs_[0].T.astype(np.float32), network.intercepts_[0].astype(np.float32),
        network.coefs_[1][:, 0].astype(np.float32), float(network.intercepts_[1][0]), vocabulary,
        tfidf.idf_.astype(np.float32), lexical.coef_[0].astype(np.float32), float(lexical.intercept_[0]),
        blend=0.5, threshold=0.0, slope=1.0, group_weights=chooser.coef_.astype(np.float32),
        group_bias=chooser.intercept_.astype(np.float32), operating_points=dict(OPERATING_POINTS), info={})
    tune_texts = [texts[i] for i in tune]
    by_vector, by_words = model.vector_logits(vectors[tune]), model.word_logits(tune_texts)
    blend, (f1, threshold) = max(((b, _best_threshold(care[tune], b * by_vector + (1 - b) * by_words))
                                  for b in BLENDS), key=lambda item: item[1][0])
    blended = blend * by_vector + (1 - blend) * by_words
    platt = LogisticRegression(C=1e6, max_iter=1000).fit((blended - threshold)[:, None], care[tune])
    model = EmotionModel(**{**{f: getattr(model, f) for f in model.__dataclass_fields__},
                            "blend": blend, "threshold": threshold, "slope": float(platt.coef_[0][0])})

    info: dict[str, Any] = {
        "dataset": "GoEmotions train.tsv (90% fit, 10% blend/operating point/Platt); dev.tsv split by comment-id "
                   "hash: 60% select, 40% aside",
        "data_sha256": {name: sha256(data_dir / name) for name in ("train.tsv", "dev.tsv", "emotions.txt")},
        "care": sorted(CARE), "groups": {k: list(v) for k, v in GROUPS.items()},
        "encoder": Path(str(encoder.model_path)).name,
        "hidden": hidden, "alpha": alpha, "c_words": c_words, "seed": seed, "blend": blend,
        "tune_f1": round(f1, 3), "features": len(vocabulary),
        "dev": evaluate(model, data_dir, encoder, cache, ("select", "aside") if aside else ("select",)),
    }
    log.info("emotion_model_trained", examples=len(fit), blend=blend, **{k: v["f1"] for k, v in info["dev"].items()})
    return EmotionModel(**{**{f: getattr(model, f) for f in model.__dataclass_fields__}, "info": info})


def evaluate(model: EmotionModel, data_dir: Path, encoder: Encoder, cache: Path | None,
             parts_wanted: tuple[str, ...] = ("select",)) -> dict[str, Any]:
    """"Needs care" precision/recall/F1 on parts of dev (a message is caught when its score reaches its
    group's operating point, i.e. when the default policy offers a person)."""
    texts, groups, ids = read_split(data_dir, "dev")
    vectors = embed_cached(encoder, texts, cache)
    caught = np.asarray([int(score >= model.operating_points[label])
                         for label, score in model.scores(texts, vectors)], dtype=np.int8)
    parts = np.asarray([dev_part(i) for i in ids])
    truth = groups.max(axis=1)
    return {part: prf(truth[parts == part], caught[parts == part]) for part in parts_wanted}


def main(argv: list[str]) -> None:
    """Train on ``argv[0]`` (the GoEmotions folder) and write the bundled model (or ``argv[1]``); ``--aside``
    also scores the aside part of dev (done once, for the shipped model)."""
    from bot.infra.cache import cache_dir
    from bot.infra.embeddings import shared_embedder
    from bot.nlu.training import onnx_encoder_for

    aside = "--aside" in argv
    argv = [a for a in argv if a != "--aside"]
    data_dir = Path(argv[0])
    out = Path(argv[1]) if len(argv) > 1 else BUNDLED_MODEL
    cache = cache_dir(Path.cwd(), "guardrails")  # never inside the (shared, read-only) data folder
    embedder = shared_embedder()
    encoder: Encoder = onnx_encoder_for(embedder.model_path, cache) or embedder
    model = train_model(data_dir, encoder, cache=cache, aside=aside)
    model.save(out)
    print(json.dumps(model.info["dev"], indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
