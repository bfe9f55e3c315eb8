"""Regulated and vulnerable topics: keywords and similarity to each category's examples (rule + embedding).

A category is pure configuration (``guardrails.yml``): description, examples and keywords. A keyword
scores 1.0 when it is meant in the category's sense; otherwise the score is the highest cosine similarity
between the message and the category's examples (the policy's thresholds decide what a score means).
Whole-sentence similarity also rewards shared business words ("...and I need to cancel her orders"), so the
message is compared with ordinary requests too (:data:`ORDINARY` plus the project's NLU examples): when an
ordinary request is closer than the category, the score drops by the difference.

A keyword is not meant in the category's sense when it is part of a hyphenated word ("bomb-proof"), sits
next to a word of selling ("your killer deal", "the fire sale", "prices are on fire"), or is the verb of
remembering ("I can't recall my order number"). A clause that negates an intention ("I'm not going to sue,
I just want a refund", "I won't be taking you to court", "no need for lawyers") says the customer does not
mean the topic: its keywords do not count and only the rest of the message is compared with the examples.
Safety categories (self-harm, danger) ignore negation: "I don't want to live any more" is negated too.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.guardrails.base import Detector, Signal
from bot.infra.embeddings import ServingEncoder
from bot.kernel.conversation import ConversationState
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


#: Words of selling: a danger word next to one is a figure of speech ("killer deal", "fire sale").
_SELLING = re.compile(r"\b(?:deals?|sales?|prices?|pricing|offers?|discounts?|bargains?|promo(?:tion)?s?|"
                      r"vouchers?|savings|flavou?rs?|cakes?|range)\b", re.IGNORECASE)
#: "recall" as remembering: after a subject, a negation or "to".
_REMEMBER = re.compile(r"(?:\b(?:i|we|you|they|can'?t|cannot|can not|don'?t|do not|didn'?t|couldn'?t|not|to|"
                       r"try|trying)\s+)(?:really\s+|quite\s+|fully\s+)?$", re.IGNORECASE)
#: A clause that negates an intention or a need ("not going to", "won't", "no need", "don't want you to").
NEGATED_INTENT = re.compile(
    r"\b(?:(?:not|never)\s+(?:going|gonna|planning|trying|looking|wanting|asking|threatening|saying|making|"
    r"intending)\b|won'?t|will not|wouldn'?t|would never|no need|no intention|(?:don'?t|do not|didn'?t)\s+"
    r"(?:want|need|intend|plan|mean)\b)", re.IGNORECASE)


def negated_clauses(text: str) -> tuple[str, list[tuple[int, int]]]:
    """``text`` without its clauses that negate an intention, and the spans of those clauses."""
    spans = []
    kept = []
    for match in re.finditer(r"[^.!?;,]+[.!?;,]*", text):
        clause = match.group(0)
        for part in re.split(r"(?=\b(?:but|just|i just|i only)\b)", clause, flags=re.IGNORECASE):
            start = match.start() + clause.find(part)
            if part.strip() and NEGATED_INTENT.search(part):
                spans.append((start, start + len(part)))
            else:
                kept.append(part)
    return "".join(kept).strip(" ,;"), spans


def other_sense(text: str, match: re.Match[str]) -> bool:
    """True when the keyword at ``match`` is not meant literally (see the module docstring)."""
    start, end = match.span()
    if (end < len(text) and text[end] == "-") or (start > 0 and text[start - 1] == "-"):
        return True
    before = text[max(0, start - 30):start].split()[-2:]
    after = text[end:end + 30].split()[:3]
    if any(_SELLING.fullmatch(w.strip(",.?!'\"")) for w in [*before, *after]):
        return True
    return match.group(0).lower().startswith("recall") and _REMEMBER.search(text[:start]) is not None


def keyword_pattern(phrases: list[str]) -> re.Pattern[str] | None:
    """One case-insensitive whole-word pattern for ``phrases`` (longest first); ``None`` when empty."""
    if not phrases:
        return None
    words = "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in sorted(phrases, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)


class detect_regulated_topic(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Scores every configured category; returns the ones above ``floor`` (best first)."""

    name = "regulated_topic"
    kind = "both"

    def __init__(self, categories: dict[str, RegulatedCategory], vectors: ServingEncoder, *,
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
        key = hashlib.sha256(json.dumps([self.vectors.model_path.name, self.vectors.dimension, self._texts]).encode()
                             ).hexdigest()[:20]
        file = cache / f"regulated-{key}.npy" if cache is not None else None
        if file is not None and file.exists():
            self._matrix = np.load(file)
            return
        self._matrix = await self.vectors.aencode(self._texts)
        if file is not None:
            np.save(file, self._matrix)

    def _keywords(self, text: str, negated: list[tuple[int, int]]) -> dict[str, tuple[float, str]]:
        scores: dict[str, tuple[float, str]] = {}
        for name, pattern in self._patterns.items():
            if pattern is None:
                continue
            safety = self.categories[name].safety
            for match in pattern.finditer(text):
                if other_sense(text, match):
                    continue
                if not safety and any(a <= match.start() < b for a, b in negated):
                    continue
                scores[name] = (1.0, f"keyword: {match.group(0)}")
                break
        return scores

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        affirmed, negated = negated_clauses(text)
        scores = self._keywords(text, negated)
        await self.warm()
        if self._matrix is not None and self._ordinary:
            if not negated:
                self._similar(await self.vectors.vector(text), scores)
            else:  # safety categories read the whole message, the others only what it affirms
                vectors = await self.vectors.aencode([text, affirmed] if affirmed else [text])
                self._similar(vectors[0], scores, only_safety=True)
                if affirmed:
                    self._similar(vectors[1], scores, skip_safety=True)
        ranked = sorted(scores.items(), key=lambda item: -item[1][0])
        return [Signal(self.name, name, score, evidence) for name, (score, evidence) in ranked]

    def _similar(self, vector: np.ndarray, scores: dict[str, tuple[float, str]], *, only_safety: bool = False,
                 skip_safety: bool = False) -> None:
        """Add the categories ``vector`` is close to (above ``floor``, after the ordinary-request discount)."""
        assert self._matrix is not None
        all_similarities = self._matrix @ vector
        similarities = all_similarities[:self._ordinary]
        ordinary = float(all_similarities[self._ordinary:].max(initial=-1.0))
        for index in np.argsort(-similarities):
            name, score = self._owners[index], float(similarities[index])
            safety = self.categories[name].safety
            if (only_safety and not safety) or (skip_safety and safety):
                continue
            if ordinary > score:
                score -= ordinary - score
            if name not in scores and score >= self.floor:
                scores[name] = (score, f"like: {self._texts[index]}")
