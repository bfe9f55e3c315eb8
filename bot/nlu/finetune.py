"""Fine-tune the sentence encoder for intent classification (offline, CPU).

A cosine classifier (normalized embeddings × normalized class weights, scaled) is trained jointly with
the encoder by cross-entropy; afterwards the head is thrown away and the encoder is saved as a plain
sentence-transformers folder, so the usual embed → logistic-regression classifier (and the ONNX
export) works unchanged on top of it. Results are cached by the training data's hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.infra.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class FinetuneConfig:
    """How the encoder is fine-tuned."""

    epochs: int = 3
    """Passes over the training data."""
    batch_size: int = 32
    """Examples per optimizer step."""
    learning_rate: float = 8e-5
    """AdamW learning rate of the encoder (the head uses 20×)."""
    scale: float = 20.0
    """Temperature of the cosine classifier's logits."""
    label_smoothing: float = 0.05
    """Cross-entropy label smoothing (0: none)."""
    max_seq_length: int = 64
    """Longer inputs are truncated (intents are short)."""
    seed: int = 0
    """Shuffling and head initialization."""
    freeze_word_embeddings: bool = True
    """Keep the 30k × 384 token-embedding matrix (half the encoder's weights) fixed: each optimizer step is
    cheaper, and words absent from the intent data keep their pretrained vectors."""


def finetune_key(base: Path, texts: Sequence[str], labels: Sequence[str], config: FinetuneConfig) -> str:
    """Cache key over the base model, the data and the config."""
    digest = hashlib.sha256(str(base.resolve()).encode())
    digest.update(json.dumps([list(texts), list(labels), repr(config)]).encode())
    return digest.hexdigest()[:24]


def length_batches(lengths: Sequence[int], batch_size: int, rng: object, pool: int = 50) -> list[list[int]]:
    """Shuffled batches of similar-length examples (less padding per step, same data per epoch).

    The examples are shuffled, cut into pools of ``pool`` batches, sorted by length inside each pool and
    batched; the batches are shuffled again so an epoch does not run from short to long.
    """
    order = rng.permutation(len(lengths))  # type: ignore[attr-defined]
    batches: list[list[int]] = []
    span = batch_size * pool
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[b : b + batch_size] for b in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]  # type: ignore[attr-defined]


def finetune_encoder(base: Path, texts: Sequence[str], labels: Sequence[str], out_dir: Path,
                     config: FinetuneConfig = FinetuneConfig(),
                     on_epoch: Callable[[object, int], None] | None = None) -> Path:
    """Fine-tune the encoder at ``base`` on ``texts``/``labels``; returns the saved model folder (cached).

    ``on_epoch(model, epoch)`` is called after each epoch with the model in eval mode (for experiments
    that score intermediate encoders; it is not part of the cache key).
    """
    target = out_dir / f"encoder-{finetune_key(base, texts, labels, config)}"
    if (target / "modules.json").exists():
        log.info("encoder_finetune_cached", path=str(target))
        return target
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(config.seed)
    model = SentenceTransformer(str(base), device="cpu")
    model.max_seq_length = config.max_seq_length
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    y = torch.tensor([index[label] for label in labels])
    dimension = int(model.get_embedding_dimension() or 384)
    head = torch.nn.Parameter(torch.randn(len(classes), dimension) * 0.02)
    with torch.no_grad():  # start the head at the class centroids: faster, steadier convergence
        vectors = torch.tensor(model.encode(list(texts), batch_size=128, normalize_embeddings=True))
        for c in range(len(classes)):
            head[c] = vectors[y == c].mean(0)
    if config.freeze_word_embeddings:
        transformer: Any = model[0].auto_model
        transformer.get_input_embeddings().weight.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([
        {"params": trainable, "lr": config.learning_rate},
        {"params": [head], "lr": config.learning_rate * 20},
    ], weight_decay=0.01)
    steps = config.epochs * ((len(texts) + config.batch_size - 1) // config.batch_size)
    warmup = max(1, steps // 10)
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # linear warm-up, then linear decay to zero
        optimizer, lambda step: min((step + 1) / warmup, max(0.0, (steps - step) / max(1, steps - warmup))))
    rng = np.random.default_rng(config.seed)
    lengths = [len(text) for text in texts]
    model.train()
    step = 0
    for epoch in range(config.epochs):
        total = 0.0
        for batch in length_batches(lengths, config.batch_size, rng):
            features = model.tokenize([texts[i] for i in batch])
            embeddings = model(features)["sentence_embedding"]
            embeddings = torch.nn.functional.normalize(embeddings, dim=-1)
            logits = config.scale * embeddings @ torch.nn.functional.normalize(head, dim=-1).T
            loss = torch.nn.functional.cross_entropy(logits, y[batch], label_smoothing=config.label_smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(batch)
            step += 1
        log.info("encoder_finetune_epoch", epoch=epoch + 1, loss=round(total / len(texts), 4), steps=step)
        if on_epoch is not None:
            model.eval()
            with torch.no_grad():
                on_epoch(model, epoch + 1)
            model.train()
    model.eval()
    tmp = target.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    tmp.rename(target)
    return target
