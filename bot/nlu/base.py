"""What understanding produces, and the interface every intent classifier implements."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class Entity:
    """A value found in the message: ``text[start:end]`` means ``value`` of type ``entity``."""

    entity: str
    value: Any
    start: int = 0
    end: int = 0
    extractor: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end,
                "extractor": self.extractor}


@dataclass(frozen=True, slots=True)
class Understanding:
    """Ranked intents with calibrated confidences, plus entities.

    ``intent`` is :data:`OUT_OF_SCOPE` when no intent is confident enough.
    """

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...] = ()
    entities: tuple[Entity, ...] = field(default_factory=tuple)

    @property
    def in_scope(self) -> bool:
        return self.intent != OUT_OF_SCOPE

    def entity(self, name: str) -> Entity | None:
        """First entity of type ``name``."""
        return next((e for e in self.entities if e.entity == name), None)


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors (sentence-transformers or the ONNX export)."""

    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class IntentClassifier(abc.ABC):
    """Trained once per project; ``predict`` is called every turn (off the event loop)."""

    @abc.abstractmethod
    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """For each text, (intent, confidence) pairs, best first."""
