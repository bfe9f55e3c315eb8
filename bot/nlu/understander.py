"""Turns text into an :class:`Understanding`: intent classifier + entity extractors."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence

from bot.nlu.base import OUT_OF_SCOPE, Entity, IntentClassifier, Understanding
from bot.nlu.entities import BUILTIN_EXTRACTORS, EntityExtractor, resolve_overlaps

__all__ = ["EntityExtractor", "Understander", "regex_extractor"]


def regex_extractor(entity: str, patterns: Sequence[str]) -> EntityExtractor:
    """An extractor for ``entity`` from regexes (Rasa ``- regex:`` entries)."""
    compiled = [re.compile(p, re.IGNORECASE) for p in patterns]

    def extract(text: str) -> list[Entity]:
        found = []
        for pattern in compiled:
            for match in pattern.finditer(text):
                found.append(Entity(entity, match.group(0), match.start(), match.end(), "regex"))
        return found

    return extract


class Understander:
    """Classifier plus extractors; ``threshold`` decides out-of-scope; ``synonyms`` canonicalize values."""

    def __init__(
        self, classifier: IntentClassifier, *, threshold: float, extractors: Sequence[EntityExtractor] = (),
        builtin: bool = True, synonyms: Mapping[str, str] | None = None,
    ) -> None:
        self.classifier = classifier
        self.threshold = threshold
        self.extractors = [*(BUILTIN_EXTRACTORS if builtin else ()), *extractors]
        self.synonyms = {k.lower(): v for k, v in (synonyms or {}).items()}

    def entities(self, text: str) -> list[Entity]:
        """Every entity the extractors find (overlaps resolved, synonyms applied)."""
        found: list[Entity] = []
        for extractor in self.extractors:
            found.extend(extractor(text))
        out = []
        for entity in resolve_overlaps(found):
            canonical = self.synonyms.get(str(entity.value).lower()) if isinstance(entity.value, str) else None
            out.append(Entity(entity.entity, canonical, entity.start, entity.end, entity.extractor)
                       if canonical is not None else entity)
        return out

    def understand(self, text: str) -> Understanding:
        """Blocking: classify and extract."""
        ranking = self.classifier.predict([text])[0][:10]
        intent, confidence = ranking[0] if ranking else (OUT_OF_SCOPE, 0.0)
        if confidence < self.threshold:
            intent = OUT_OF_SCOPE
        return Understanding(intent, confidence, tuple(ranking), tuple(self.entities(text)))

    async def aunderstand(self, text: str) -> Understanding:
        """:meth:`understand` off the event loop."""
        return await asyncio.to_thread(self.understand, text)
