"""Emotions: anger, sadness (distress, bereavement), fear, and frustration from the conversation's trend.

The model is a small logistic head over the shared MiniLM sentence embeddings, trained on GoEmotions
(:mod:`bot.guardrails.emotion_training`); the trained head ships with the package as JSON (a few
kilobytes), so start-up only reads a file. Cues the embedding misses (profanity, shouting in capitals,
"!!!", support-desk complaint phrases) raise the anger score by noisy-OR; the last few customer
messages give the trend: repeated negative messages become a ``frustration`` signal.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bot.guardrails.base import Detector, Signal
from bot.guardrails.regulated import keyword_pattern
from bot.infra.embeddings import ServingEncoder
from bot.kernel.conversation import ConversationState
from bot.kernel.errors import ConfigError, ConfigProblem
from bot.kernel.events import UserUttered
from bot.project.schema import EmotionConfig

BUNDLED_HEAD = Path(__file__).parent / "models" / "emotion_head.json"

#: A message at least this negative counts as a complaint in the trend.
COMPLAINT_SCORE = 0.5


@dataclass(frozen=True, slots=True)
class EmotionHead:
    """One-vs-rest logistic regressions over sentence embeddings; scores are 0..1 per label."""

    labels: tuple[str, ...]
    weights: np.ndarray  # (labels, dimension)
    bias: np.ndarray  # (labels,)
    info: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> EmotionHead:
        """Read a head written by :meth:`save`; a broken file is a :class:`ConfigError` naming it."""
        try:
            data = json.loads(path.read_text())
            return cls(tuple(data["labels"]), np.asarray(data["weights"], dtype=np.float32),
                       np.asarray(data["bias"], dtype=np.float32), data.get("info", {}))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError([ConfigProblem(path, None, "emotion.model", f"cannot read emotion head: {exc}")]
                              ) from exc

    def save(self, path: Path) -> None:
        """Write the head as JSON (weights rounded to 5 decimals)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "labels": list(self.labels),
            "weights": np.round(self.weights, 5).tolist(),
            "bias": np.round(self.bias, 5).tolist(),
            "info": self.info,
        }, separators=(",", ":")))

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities, shape (len(vectors), len(labels))."""
        return 1.0 / (1.0 + np.exp(-(vectors @ self.weights.T + self.bias)))


_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")


def surface_anger(text: str, profanity: re.Pattern[str] | None, complaints: re.Pattern[str] | None
                  ) -> tuple[float, str]:
    """Anger cues the embedding misses, combined by noisy-OR: profanity 0.5, a complaint phrase 0.4,
    shouting in capitals 0.35, repeated exclamation marks 0.25. Returns the cue score and the evidence."""
    keep, cues = 1.0, []
    for weight, pattern, label in ((0.5, profanity, "profanity"), (0.4, complaints, "complaint")):
        if pattern is not None and (match := pattern.search(text)):
            keep *= 1 - weight
            cues.append(f"{label}: {match.group(0)}")
    letters = [c for c in text if c.isalpha()]
    shouting = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6
    if shouting or len(_CAPS_WORD.findall(text)) >= 3:
        keep *= 1 - 0.35
        cues.append("capitals")
    if "!!" in text or text.count("!") >= 3:
        keep *= 1 - 0.25
        cues.append("exclamations")
    return 1 - keep, ", ".join(cues)


class detect_emotion(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Signals ``anger``, ``sadness``, ``fear`` for this message and ``frustration`` for the trend."""

    name = "emotion"

    def __init__(self, head: EmotionHead, vectors: ServingEncoder, config: EmotionConfig) -> None:
        self.head = head
        self.vectors = vectors
        self.config = config
        self._profanity = keyword_pattern(config.profanity)
        self._complaints = keyword_pattern(config.complaints)
        self._anger = head.labels.index("anger") if "anger" in head.labels else None

    def _score(self, texts: list[str], vectors: np.ndarray) -> list[dict[str, tuple[float, str]]]:
        out = []
        for text, row in zip(texts, self.head.scores(vectors), strict=True):
            scores = {label: (float(p), "model") for label, p in zip(self.head.labels, row, strict=True)}
            cue, cues = surface_anger(text, self._profanity, self._complaints)
            if cue and "anger" in scores:
                scores["anger"] = (1 - (1 - scores["anger"][0]) * (1 - cue), f"model + {cues}")
            out.append(scores)
        return out

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        if text.startswith("/"):
            return []  # a button payload (or a reply read as one) carries no feeling of its own
        earlier = [e.text for e in state.events if isinstance(e, UserUttered) and not e.for_agent
                   and e is not state.latest_user and not e.text.startswith("/")]
        texts = [*earlier[-(self.config.trend_turns - 1):], text]
        per_text = self._score(texts, await self.vectors.aencode(texts))
        current = per_text[-1]
        signals = [Signal(self.name, label, score, evidence) for label, (score, evidence) in current.items()
                   if score >= 0.3]
        negativity = [max(s[0] for s in scores.values()) for scores in per_text]
        complaints = sum(1 for n in negativity if n >= COMPLAINT_SCORE)
        if len(texts) >= 2 and complaints >= 2 and negativity[-1] >= COMPLAINT_SCORE:
            rising = negativity[-1] > negativity[0]
            score = min(1.0, 0.25 * complaints + (0.15 if rising else 0.0))
            signals.append(Signal(self.name, "frustration", score,
                                  f"{complaints} negative of last {len(texts)} messages" + (", rising" if rising
                                                                                           else "")))
        return sorted(signals, key=lambda s: -s.score)


def load_head(config: EmotionConfig, project_path: Path) -> EmotionHead:
    """The project's head (``emotion.model``) or the bundled GoEmotions one."""
    return EmotionHead.load(project_path / config.model if config.model else BUNDLED_HEAD)
