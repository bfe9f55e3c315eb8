"""One embedding per message, shared by every detector of a turn (and the next few turns)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict

import numpy as np

from bot.nlu.base import Encoder


class SharedVectors:
    """An LRU memo over an encoder: the emotion, regulated and complexity detectors embed a text once."""

    def __init__(self, encoder: Encoder, *, size: int = 2048) -> None:
        self.encoder = encoder
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size

    async def vectors(self, texts: list[str]) -> np.ndarray:
        """Normalized embeddings of ``texts`` (encoded off the event loop when not memoized)."""
        if not texts:
            return np.zeros((0, self.encoder.dimension), dtype=np.float32)
        found = {t: self._memo[t] for t in texts if t in self._memo}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            fresh = await asyncio.to_thread(self.encoder.encode, missing)
            found.update(zip(missing, fresh, strict=True))
        for text in dict.fromkeys(texts):
            self._memo[text] = found[text]
            self._memo.move_to_end(text)
        while len(self._memo) > self._size:
            self._memo.popitem(last=False)
        return np.stack([found[t] for t in texts])

    async def vector(self, text: str) -> np.ndarray:
        """The embedding of one text."""
        return (await self.vectors([text]))[0]
