"""Emotions that need a person's care (anger, sadness, fear) and frustration from the conversation's trend.

The model (:class:`EmotionModel`, trained by :mod:`bot.guardrails.emotion_training` on GoEmotions) has three
small parts, all read from one ``.npz`` file that ships with the package (about 1 MB):

- a one-hidden-layer network over the turn's MiniLM sentence vector (the :class:`ServingEncoder`'s, shared
  with every other stage: no second encoder);
- a logistic regression over the message's words and word pairs (tf-idf), which catches the emotion words
  a sentence vector blurs ("ugh", "gutted", "sorry for your loss");
- three one-vs-rest logistic regressions over the sentence vector that say *which* care group it is.

The first two are blended (a weighted sum of their logits) into one "needs care" score; its operating point,
picked for F1 on a part of GoEmotions train, is moved onto the policy's ``offer_human`` threshold of the
group the third part chose, so the policy offers a person exactly when the model says "needs care".
Support-desk cues the Reddit data lacks (profanity, complaint phrases, shouting, "!!!") raise the anger
score by noisy-OR; the last few customer messages give the trend: repeated negative messages become a
``frustration`` signal.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
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

BUNDLED_MODEL = Path(__file__).parent / "models" / "emotion_model.npz"

#: A message at least this negative counts as a complaint in the trend.
COMPLAINT_SCORE = 0.5

_TOKEN = re.compile(r"[a-z']+|[!?]")


def words(text: str) -> list[str]:
    """The lexical features of ``text``: lower-cased words (and ``!``/``?``), then adjacent word pairs."""
    tokens = _TOKEN.findall(text.lower())
    return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


@dataclass(frozen=True, slots=True)
class EmotionModel:
    """The "needs care" scorer and its group chooser (see the module docstring)."""

    labels: tuple[str, ...]
    """The care groups, in the order of ``group_weights`` (anger, sadness, fear)."""
    hidden_weights: np.ndarray  # (hidden, dimension)
    hidden_bias: np.ndarray  # (hidden,)
    out_weights: np.ndarray  # (hidden,)
    out_bias: float
    vocabulary: dict[str, int]
    idf: np.ndarray  # (features,)
    word_weights: np.ndarray  # (features,)
    word_bias: float
    blend: float
    """Weight of the sentence-vector network's logit; the words' logit gets ``1 - blend``."""
    threshold: float
    """The blended logit at the operating point (best F1 on the tuning part of train)."""
    slope: float
    """Platt scale of the blended logit (fitted on the tuning part); a signal's score is
    ``sigmoid(slope * (z - threshold) + logit(operating_points[group]))``."""
    group_weights: np.ndarray  # (groups, dimension)
    group_bias: np.ndarray  # (groups,)
    operating_points: dict[str, float]
    """The score each group's signal has at the operating point (the policy's ``offer_human`` thresholds)."""
    info: dict[str, Any]

    @classmethod
    def load(cls, path: Path) -> EmotionModel:
        """Read a model written by :meth:`save`; a broken file is a :class:`ConfigError` naming it."""
        try:
            with np.load(path, allow_pickle=False) as data:
                meta = json.loads(bytes(data["meta"]).decode())
                vocabulary = bytes(data["vocabulary"]).decode().split("\n")
                return cls(
                    tuple(meta["labels"]), data["hidden_weights"].astype(np.float32),
                    data["hidden_bias"].astype(np.float32), data["out_weights"].astype(np.float32),
                    float(meta["out_bias"]), {w: i for i, w in enumerate(vocabulary)},
                    data["idf"].astype(np.float32), data["word_weights"].astype(np.float32),
                    float(meta["word_bias"]), float(meta["blend"]), float(meta["threshold"]),
                    float(meta["slope"]), data["group_weights"].astype(np.float32),
                    data["group_bias"].astype(np.float32), dict(meta["operating_points"]), meta.get("info", {}))
        except (OSError, ValueError, KeyError) as exc:
            raise ConfigError([ConfigProblem(path, None, "emotion.model", f"cannot read emotion model: {exc}")]
                              ) from exc

    def save(self, path: Path) -> None:
        """Write the model as one compressed ``.npz`` (float16 weights)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        vocabulary = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        meta = {"labels": list(self.labels), "out_bias": self.out_bias, "word_bias": self.word_bias,
                "blend": self.blend, "threshold": self.threshold, "slope": self.slope,
                "operating_points": self.operating_points, "info": self.info}
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer, meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            vocabulary=np.frombuffer("\n".join(vocabulary).encode(), dtype=np.uint8),
            hidden_weights=self.hidden_weights.astype(np.float16), hidden_bias=self.hidden_bias.astype(np.float16),
            out_weights=self.out_weights.astype(np.float16), idf=self.idf.astype(np.float16),
            word_weights=self.word_weights.astype(np.float16), group_weights=self.group_weights.astype(np.float16),
            group_bias=self.group_bias.astype(np.float16))
        path.write_bytes(buffer.getvalue())

    def without_words(self, neutral: list[str]) -> EmotionModel:
        """This model with the words model blind to ``neutral`` words (a support chat's commands: "stop",
        "cancel", "no" are annoyance on Reddit, instructions here)."""
        index = [self.vocabulary[w.lower()] for w in neutral if w.lower() in self.vocabulary]
        if not index:
            return self
        weights = self.word_weights.copy()
        weights[index] = 0.0
        return EmotionModel(**{**{f: getattr(self, f) for f in self.__dataclass_fields__}, "word_weights": weights})

    def vector_logits(self, vectors: np.ndarray) -> np.ndarray:
        """The sentence-vector network's logit per row of ``vectors``."""
        hidden = np.maximum(vectors @ self.hidden_weights.T + self.hidden_bias, 0.0)
        return np.asarray(hidden @ self.out_weights + self.out_bias)

    def word_logits(self, texts: list[str]) -> np.ndarray:
        """The words model's logit per text (tf-idf: sublinear counts times idf, L2-normalized)."""
        out = np.full(len(texts), self.word_bias, dtype=np.float64)
        for row, text in enumerate(texts):
            counts = Counter(f for f in words(text) if f in self.vocabulary)
            if not counts:
                continue
            index = np.fromiter((self.vocabulary[f] for f in counts), dtype=np.int64, count=len(counts))
            values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64, count=len(counts)))) \
                * self.idf[index]
            out[row] += float(values @ self.word_weights[index]) / float(np.linalg.norm(values))
        return out

    def care_logits(self, texts: list[str], vectors: np.ndarray) -> np.ndarray:
        """The blended "needs care" logit minus the operating point (> 0: needs care)."""
        blended = self.blend * self.vector_logits(vectors) + (1 - self.blend) * self.word_logits(texts)
        return np.asarray(blended - self.threshold)

    def groups(self, vectors: np.ndarray) -> np.ndarray:
        """Index into :attr:`labels` of the likeliest care group per row."""
        return np.asarray(np.argmax(vectors @ self.group_weights.T + self.group_bias, axis=1))

    def scores(self, texts: list[str], vectors: np.ndarray) -> list[tuple[str, float]]:
        """Per text, its care group and score (the group's operating point at the F1-optimal threshold)."""
        out = []
        for margin, group in zip(self.care_logits(texts, vectors), self.groups(vectors), strict=True):
            label = self.labels[int(group)]
            logit = self.slope * float(margin) + _logit(self.operating_points[label])
            out.append((label, 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit))))))
        return out


_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")

_COUNT = r"(?:second|third|fourth|fifth|sixth|tenth|umpteenth|nth|\d+(?:st|nd|rd|th)?|two|three|four|five|six|many)"
#: Frustration said in plain words in a support chat, which the Reddit-trained model under-rates.
PLAIN_FRUSTRATION = {
    "repeat contact": re.compile(
        rf"\b{_COUNT} (?:times?|emails?|messages?|calls?)\b(?! (?:item|one|order|box)s?\b)"
        rf"(?=.*\b(?:writ|messag|email|contact|call|rang|ring|ask|chas|explain|told|same|about|now|still|this)"
        r"|\W*$)"
        r"|\b(?:how many (?:more )?times|every (?:single )?time i|asked and asked|again and again|lost count"
        r"|already (?:explained|told|asked|sent)|keep being told|(?:said|told me) that (?:last|before)"
        r"|same (?:answer|problem|thing) every|been chasing|still (?:nothing|no answer|waiting|no reply)"
        r"|going round in circles|nobody (?:ever |has )?(?:replies|reply|calls|rings|gets back|got back)"
        r"|why does nobody|is (?:anyone|anybody) even (?:there|reading|listening))",
        re.IGNORECASE),
    "exhaustion": re.compile(
        r"\b(?:i'?ve had (?:enough|it)\b|enough is enough|i(?:'m| am) (?:so |just |really )?done\b(?! with (?:my|the) "
        r"(?:order|form|payment))|i give up|can'?t (?:do|keep doing|take) this|exhausted|worn out|"
        r"tired of (?:waiting|chasing|this|being|repeating|ringing|calling)|sick of|fed up|end of my tether|"
        r"wits'? end|breaking point|(?:losing|running out of|lost) (?:my )?patience|patience has run out|"
        r"at the end of|last straw|too much)",
        re.IGNORECASE),
    "judgement": re.compile(
        r"\b(?:ridiculous\b|(?:a|beyond a) joke\b|kidding|not good enough|unacceptable|useless|hopeless|"
        r"nightmare|shambles|disgrace|pathetic|wasting my time|waste of (?:my )?time|frustrat\w*|fuming|"
        r"furious|annoyed|upset|not impressed|formal complaint|worst)",
        re.IGNORECASE),
}


def plain_frustration(text: str) -> tuple[float, str]:
    """Score and evidence of frustration said in plain words: 0.6 for one kind of cue (the default policy
    offers a person), 0.8 for two kinds (it escalates)."""
    found = [f"{kind}: {match.group(0)}" for kind, pattern in PLAIN_FRUSTRATION.items()
             if (match := pattern.search(text))]
    return (0.0, "") if not found else (0.6 if len(found) == 1 else 0.8, ", ".join(found))


def surface_anger(text: str, profanity: re.Pattern[str] | None, complaints: re.Pattern[str] | None
                  ) -> tuple[float, str]:
    """Anger cues the Reddit-trained model under-rates in a support chat, combined by noisy-OR: profanity 0.5,
    a complaint phrase 0.4, shouting in capitals 0.35, repeated exclamation marks 0.25. Returns the cue score
    and the evidence."""
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


#: Words that, around a command word, keep a message a bare command ("Stop here", "no, go back").
_COMMAND_FILLER = frozenset({"here", "that", "it", "this", "please", "thanks", "thank", "you", "now", "then", "go",
                             "back", "a", "the", "sec", "second", "minute", "moment", "on", "hold", "just", "ok",
                             "okay", "oh", "mind", "never", "thing", "last"})


def bare_command(text: str, command_words: frozenset[str]) -> bool:
    """True for a short message made of command words and filler only ("Stop here", "no", "never mind")."""
    tokens = re.findall(r"[a-z']+", text.lower())
    return 0 < len(tokens) <= 6 and any(t in command_words or t == "never" for t in tokens) \
        and all(t in command_words or t in _COMMAND_FILLER for t in tokens)


class detect_emotion(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Signals ``anger``, ``sadness`` or ``fear`` for this message and ``frustration`` for the trend."""

    name = "emotion"
    kind = "both"

    def __init__(self, model: EmotionModel, vectors: ServingEncoder, config: EmotionConfig) -> None:
        self.model = model.without_words(config.command_words)
        self.vectors = vectors
        self.config = config
        self._profanity = keyword_pattern(config.profanity)
        self._complaints = keyword_pattern(config.complaints)
        self._commands = frozenset(w.lower() for w in config.command_words)

    def _score(self, texts: list[str], vectors: np.ndarray) -> list[tuple[str, float, str]]:
        out = []
        for text, (label, score) in zip(texts, self.model.scores(texts, vectors), strict=True):
            evidence = "model"
            cue, cues = surface_anger(text, self._profanity, self._complaints)
            if cue:
                anger = score if label == "anger" else 0.0
                combined = 1 - (1 - anger) * (1 - cue)
                if combined > score or label == "anger":
                    label, score, evidence = "anger", combined, f"model + {cues}"
            out.append((label, score, evidence))
        return out

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        if text.startswith("/"):
            return []  # a button payload (or a reply read as one) carries no feeling of its own
        earlier = [e.text for e in state.events if isinstance(e, UserUttered) and not e.for_agent
                   and e is not state.latest_user and not e.text.startswith("/")]
        texts = [*earlier[-(self.config.trend_turns - 1):], text]
        per_text = self._score(texts, await self.vectors.aencode(texts))
        label, score, evidence = per_text[-1]
        if bare_command(text, self._commands) and not evidence.startswith("model +"):
            score = 0.0  # an instruction to the bot, not a feeling (the Reddit data reads "Stop." as annoyance)
        signals = [Signal(self.name, label, score, evidence)] if score >= 0.3 else []
        plain, said = plain_frustration(text)
        if plain:
            signals.append(Signal(self.name, "frustration", plain, f"said: {said}"))
        negativity = [s for _, s, _ in per_text]
        complaints = sum(1 for n in negativity if n >= COMPLAINT_SCORE)
        if len(texts) >= 2 and complaints >= 2 and negativity[-1] >= COMPLAINT_SCORE and not plain:
            rising = negativity[-1] > negativity[0]
            trend = min(1.0, 0.25 * complaints + (0.15 if rising else 0.0))
            signals.append(Signal(self.name, "frustration", trend,
                                  f"{complaints} negative of last {len(texts)} messages" + (", rising" if rising
                                                                                           else "")))
        return sorted(signals, key=lambda s: -s.score)


def load_model(config: EmotionConfig, project_path: Path) -> EmotionModel:
    """The project's model (``emotion.model``) or the bundled GoEmotions one."""
    return EmotionModel.load(project_path / config.model if config.model else BUNDLED_MODEL)
