"""Regulated and vulnerable topics: keywords and similarity to each category's examples.

A category is pure configuration (``guardrails.yml``): description, examples and keywords. A keyword
scores 1.0; otherwise the score is the highest cosine similarity between the message and the
category's examples (the policy's thresholds decide what a score means). Whole-sentence similarity
also rewards shared business words ("...and I need to cancel her orders"), so the message is compared
with ordinary requests too (:data:`ORDINARY` plus the project's NLU examples): when an ordinary request
is closer than the category, the score drops by the difference.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.conversation import ConversationState
from bot.guardrails.base import Detector, Signal
from bot.guardrails.encoding import SharedVectors
from bot.project.schema import RegulatedCategory

#: Everyday support requests: a message closer to one of these than to a category is business as usual.
ORDINARY = (
    "I want to cancel my order", "where is my order", "I'd like a refund", "I want to return an item",
    "can I change my delivery address", "can you check my order status", "I need to reschedule my appointment",
    "my parcel is late", "I was charged twice", "the item arrived damaged", "how do I reset my password",
    "can I update my email address", "I want to close my account", "do you have this in stock",
    "what are your opening hours", "how much is delivery", "I want to make a complaint about the delivery",
    "can I pay in instalments", "my discount code doesn't work", "I need an invoice",
)


def keyword_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word pattern for ``phrases`` (longest first); ``None`` when empty."""
    if not phrases:
        return None
    words = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


class detect_regulated_topic(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Scores every configured category; returns the ones above ``floor`` (best first)."""

    name = "regulated_topic"

    def __init__(self, categories: dict[str, RegulatedCategory], vectors: SharedVectors, *,
                 ordinary: Sequence[str] = ORDINARY, floor: float = 0.45) -> None:
        self.categories = categories
        self.vectors = vectors
        self.floor = floor
        self._patterns = {name: keyword_pattern(c.keywords) for name, c in categories.items()}
        self._owners: list[str] = []
        self._texts: list[str] = []
        for name, category in categories.items():
            for text in (category.description, *category.examples):
                self._owners.append(name)
                self._texts.append(text)
        self._ordinary = len(self._texts)
        self._texts.extend(dict.fromkeys(ordinary))
        self._matrix: np.ndarray | None = None

    async def warm(self, cache: Path | None = None) -> None:
        """Embed the examples now (start-up) rather than at the first message; ``cache`` keeps them on disk."""
        if self._matrix is not None or not self._texts:
            return
        key = hashlib.sha256(json.dumps([self.vectors.encoder.dimension, self._texts]).encode()).hexdigest()[:20]
        file = cache / f"regulated-{key}.npy" if cache is not None else None
        if file is not None and file.exists():
            self._matrix = np.load(file)
            return
        self._matrix = await self.vectors.vectors(self._texts)
        if file is not None:
            np.save(file, self._matrix)

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        scores: dict[str, tuple[float, str]] = {}
        for name, pattern in self._patterns.items():
            if pattern is not None and (match := pattern.search(text)):
                scores[name] = (1.0, f"keyword: {match.group(0)}")
        await self.warm()
        if self._matrix is not None and self._ordinary:
            all_similarities = self._matrix @ await self.vectors.vector(text)
            similarities = all_similarities[:self._ordinary]
            ordinary = float(all_similarities[self._ordinary:].max(initial=-1.0))
            for index in np.argsort(-similarities):
                name, score = self._owners[index], float(similarities[index])
                if ordinary > score:
                    score -= ordinary - score
                if name not in scores and score >= self.floor:
                    scores[name] = (score, f"like: {self._texts[index]}")
        ranked = sorted(scores.items(), key=lambda item: -item[1][0])
        return [Signal(self.name, name, score, evidence) for name, (score, evidence) in ranked]
