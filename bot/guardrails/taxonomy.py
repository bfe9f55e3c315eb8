"""The regulated-topic taxonomy: the bundled categories merged with a project's ``guardrails.yml``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from bot.kernel.errors import ConfigError, ConfigProblem
from bot.project.schema import GuardrailsConfig, RegulatedCategory
from bot.project.yamlfile import read_yaml

BUNDLED = Path(__file__).with_name("taxonomy.yml")

#: Escalation-reason family of every non-regulated signal category the detectors emit.
FAMILIES = {
    "requested": "requested",
    "anger": "emotional", "sadness": "emotional", "fear": "emotional", "frustration": "emotional",
    "low_confidence": "complex", "repeated_fallback": "complex", "multiple_requests": "complex",
    "long_message": "complex", "repeated_question": "complex",
    "prompt_injection": "safety", "other_customer_data": "safety", "pii": "safety",
}

#: Signal categories of the emotion detector (the breaker counts them as negative sentiment).
EMOTIONAL = frozenset(c for c, family in FAMILIES.items() if family == "emotional")


@cache
def bundled_categories() -> dict[str, RegulatedCategory]:
    """The categories shipped in ``taxonomy.yml`` (read once per process)."""
    doc = read_yaml(BUNDLED)
    try:
        return TypeAdapter(dict[str, RegulatedCategory]).validate_python(doc.data)
    except ValidationError as exc:
        raise ConfigError([ConfigProblem(BUNDLED, None, ".".join(map(str, e["loc"])), e["msg"])
                           for e in exc.errors()]) from exc


def taxonomy(config: GuardrailsConfig) -> dict[str, RegulatedCategory]:
    """The effective categories: bundled ones (unless switched off), then the project's (``None`` removes)."""
    merged = dict(bundled_categories()) if config.default_categories else {}
    for name, category in config.categories.items():
        if category is None:
            merged.pop(name, None)
        else:
            merged[name] = category
    return merged
