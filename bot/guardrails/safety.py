"""Safety detectors: prompt injection and jailbreaks, requests for other customers' data, PII in free text.

PII is not a reason to stop: :func:`bot.kernel.masking.mask_text` masks it before a text reaches a log line (the
logging processor uses the same rules) or an LLM prompt; the signal only records that it was there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.guardrails.base import Detector, Signal
from bot.kernel.conversation import ConversationState
from bot.kernel.masking import pii_kinds

#: Prompt-injection and jailbreak phrasings, each with the score it earns.
INJECTION_PATTERNS: tuple[tuple[str, float], ...] = (
    (r"\b(?:ignore|disregard|forget|override)\b.{0,30}\b(?:previous|prior|above|earlier|all|your|the)\b.{0,20}"
     r"\b(?:instructions?|prompts?|rules?|guidelines?|directions?)\b", 0.95),
    (r"\b(?:system|developer|hidden|initial)\s+(?:prompt|message|instructions?)\b", 0.85),
    (r"\b(?:reveal|show|print|repeat|tell me|output|display)\b.{0,25}\b(?:your|the|hidden|secret|initial|original)"
     r"\s+(?:system\s+)?(?:prompt|instructions|configuration)\b", 0.8),
    (r"\byou are (?:now|no longer)\b.{0,30}\b(?:AI|assistant|model|bot|DAN|unrestricted|unfiltered|jailbroken|"
     r"free|bound|restricted|developer)\b", 0.85),
    (r"\b(?:pretend|act|behave|roleplay)\b.{0,15}\b(?:as|like|to be)\b.{0,30}\b(?:unrestricted|unfiltered|"
     r"evil|jailbroken|without (?:any )?(?:rules|restrictions|limits))\b", 0.9),
    (r"\b(?:jailbreak|jailbroken|DAN mode|developer mode|do anything now)\b", 0.9),
    (r"\bnew (?:rules|instructions)\s*:", 0.85),
    (r"</?(?:system|assistant|instructions?)>|\[/?INST\]|<\|im_start\|>", 0.9),
    (r"\bfrom now on\b.{0,40}\b(?:you will|you must|respond|answer|only)\b", 0.75),
)

#: Requests for someone else's personal data or account.
OTHER_CUSTOMER_PATTERNS: tuple[tuple[str, float], ...] = (
    (r"\b(?:another|other|a different)\s+customer'?s?\b", 0.85),
    (r"\b(?:someone|somebody|anyone|everyone) else'?s\b.{0,30}\b(?:account|order|address|details|data|"
     r"booking|appointment|email|phone|card)s?\b", 0.9),
    (r"\b(?:list|show|give|send|export)\b.{0,20}\b(?:all|every)\s+(?:customers?|users|accounts|orders)\b", 0.9),
    (r"\b(?:my|the)\s+(?:neighbou?r|ex|ex-?wife|ex-?husband|boss|colleague|friend)'?s\b.{0,30}\b(?:account|order|"
     r"address|details|data|appointment|email|phone|password)\b", 0.85),
    (r"\b(?:address|phone number|email|details)\s+of\s+(?:the\s+)?(?:customer|user|account holder|person)\b", 0.8),
    (r"\bwho (?:placed|made|owns)\b.{0,20}\b(?:order|account|booking)\b", 0.75),
)


def _compile(patterns: tuple[tuple[str, float], ...], extra: list[str], extra_score: float
             ) -> list[tuple[re.Pattern[str], float]]:
    compiled = [(re.compile(p, re.IGNORECASE), s) for p, s in patterns]
    return compiled + [(re.compile(p, re.IGNORECASE), extra_score) for p in extra]


def _best(patterns: list[tuple[re.Pattern[str], float]], text: str) -> tuple[float, str]:
    best, evidence = 0.0, ""
    for pattern, score in patterns:
        if score > best and (match := pattern.search(text)):
            best, evidence = score, match.group(0)
    return best, evidence


class detect_prompt_injection(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Attempts to override the assistant's instructions or unlock it (jailbreaks)."""

    name = "prompt_injection"

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        self._patterns = _compile(INJECTION_PATTERNS, list(extra_patterns), 0.9)

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        score, evidence = _best(self._patterns, text)
        return [Signal(self.name, "prompt_injection", score, evidence)] if score else []


class detect_other_customer_data(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Requests for another customer's data or account, or for data about customers in bulk."""

    name = "other_customer_data"

    def __init__(self, extra_patterns: Sequence[str] = ()) -> None:
        self._patterns = _compile(OTHER_CUSTOMER_PATTERNS, list(extra_patterns), 0.9)

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        score, evidence = _best(self._patterns, text)
        return [Signal(self.name, "other_customer_data", score, evidence)] if score else []


class detect_pii(Detector):  # noqa: N801 - detectors get verb names (STYLE.md)
    """Personal data written in free text (cards, IBANs, national numbers, emails, phones, dates)."""

    name = "pii"

    async def detect(self, text: str, state: ConversationState, channel: str) -> list[Signal]:
        kinds = pii_kinds(text)
        score = 1.0 if {"card", "iban", "national_id"} & set(kinds) else 0.6
        return [Signal(self.name, "pii", score, ",".join(kinds))] if kinds else []
