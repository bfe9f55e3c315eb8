"""Turns text into an :class:`Understanding`: intent classifier + entity extractors, optionally an LLM
command generator (:mod:`bot.nlu.llm_commands`) as fallback or primary."""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Literal

from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.nlu.base import OUT_OF_SCOPE, Entity, IntentClassifier, Understanding
from bot.nlu.entities import EntityExtractor, builtin_extractors, resolve_overlaps

if TYPE_CHECKING:
    from bot.nlu.llm_commands import DialogueContext, LLMCommandGenerator

log = get_logger(__name__)

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


_CLAUSE_END = re.compile(r"[,;.!?]+\s+|\s+-+\s+")
MIN_CLAUSE_WORDS = 2
SUPPORTING_INTENTS = frozenset({"greet", "inform", "affirm", "deny", "thank", OUT_OF_SCOPE})
"""Intents (Rasa's usual names) of clauses that accompany a request ("hi", "grace here", "email ...") rather than
make one: they never speak for a message read clause by clause."""


def clauses_of(text: str) -> list[str]:
    """The clauses of ``text`` of at least :data:`MIN_CLAUSE_WORDS` words, split at punctuation."""
    return [c.strip() for c in _CLAUSE_END.split(text) if len(c.split()) >= MIN_CLAUSE_WORDS]


class Understander:
    """Classifier plus extractors; ``threshold`` decides out-of-scope; ``synonyms`` canonicalize values.

    With an LLM command generator (:meth:`with_llm`), :meth:`aunderstand` asks the model in ``fallback`` mode
    only when the classifier is out of scope, in ``primary`` mode first; when the model fails the classifier's
    result stands. Entities always come from the extractors too (they see the unmasked text; the model does not).
    """

    llm: LLMCommandGenerator | None = None
    """The command generator, or ``None`` (the default: no model is ever called)."""
    llm_mode: Literal["fallback", "primary"] = "fallback"
    """When the generator is asked."""

    def __init__(
        self, classifier: IntentClassifier, *, threshold: float, extractors: Sequence[EntityExtractor] = (),
        builtin: bool = True, synonyms: Mapping[str, str] | None = None, locale: str = "en-US",
    ) -> None:
        self.classifier = classifier
        self.threshold = threshold
        self.extractors = [*(builtin_extractors(locale) if builtin else ()), *extractors]
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
        """Blocking: classify and extract. A message the classifier cannot place as a whole, or places as a
        greeting or a bare answer, is read clause by clause ("hi, grace here, email grace@example.com, any news
        on my chair?": the greeting and the address drown the request); the most confident clause above the
        threshold that makes a request speaks for it."""
        ranking = self.classifier.predict([text])[0][:10]
        intent, confidence = ranking[0] if ranking else (OUT_OF_SCOPE, 0.0)
        unplaced = confidence < self.threshold or intent in SUPPORTING_INTENTS
        if unplaced and len(clauses := clauses_of(text)) > 1:
            requests = [r for r in self.classifier.predict(clauses) if r and r[0][0] not in SUPPORTING_INTENTS]
            best = max(requests, key=lambda r: r[0][1], default=None)
            if best and best[0][1] >= self.threshold:
                ranking = best[:10]
                intent, confidence = ranking[0]
        if confidence < self.threshold:
            intent = OUT_OF_SCOPE
        return Understanding(intent, confidence, tuple(ranking), tuple(self.entities(text)))

    def with_llm(self, generator: LLMCommandGenerator, mode: Literal["fallback", "primary"]) -> Understander:
        """A copy sharing this classifier and these extractors that also asks ``generator``."""
        other = copy.copy(self)
        other.llm, other.llm_mode = generator, mode
        return other

    async def aunderstand(self, text: str, context: DialogueContext | None = None) -> Understanding:
        """:meth:`understand` off the event loop, with the LLM command generator when one is set."""
        if self.llm is None:
            return await asyncio.to_thread(self.understand, text)
        if self.llm_mode == "primary":
            entities = await asyncio.to_thread(self.entities, text)
            understood = await self._ask_llm(text, context, entities)
            return understood if understood is not None else await asyncio.to_thread(self.understand, text)
        classified = await asyncio.to_thread(self.understand, text)
        if classified.in_scope:
            return classified
        understood = await self._ask_llm(text, context, list(classified.entities))
        return understood if understood is not None else classified

    async def _ask_llm(self, text: str, context: DialogueContext | None, entities: list[Entity]
                       ) -> Understanding | None:
        """The model's understanding with the extractors' entities first, or ``None`` when the model failed."""
        assert self.llm is not None
        try:
            proposed = await self.llm.generate(text, context)
        except ProviderError as exc:
            log.warning("llm_commands_failed", mode=self.llm_mode, error=str(exc), permanent=exc.permanent)
            return None
        found = {e.entity for e in entities}
        merged = (*entities, *(e for e in proposed.entities if e.entity not in found))
        log.info("llm_commands_understood", mode=self.llm_mode, intent=proposed.intent,
                 slots=[e.entity for e in proposed.entities])
        return Understanding(proposed.intent, proposed.confidence, proposed.ranking, merged)

    async def close(self) -> None:
        """Release the LLM client, if any."""
        if self.llm is not None:
            await self.llm.close()
