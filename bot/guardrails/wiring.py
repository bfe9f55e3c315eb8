"""The per-turn guards a process holds (detectors and policy), opened once by :func:`open_guardrails` (see
``bot.app.runtime``). The ops control plane (scope, breaker, releases) is :mod:`bot.ops.wiring`."""

from __future__ import annotations

from dataclasses import dataclass

from bot.guardrails.base import Detector, Policy
from bot.guardrails.complexity import detect_complexity
from bot.guardrails.emotion import detect_emotion, load_model
from bot.guardrails.human_request import detect_human_request
from bot.guardrails.policy import ConfiguredPolicy
from bot.guardrails.regulated import ORDINARY, detect_regulated_topic
from bot.guardrails.safety import detect_other_customer_data, detect_pii, detect_prompt_injection
from bot.guardrails.taxonomy import taxonomy
from bot.infra.cache import cache_dir
from bot.infra.embeddings import Encoder, ServingEncoder
from bot.project import Project


def build_detectors(project: Project, encoder: Encoder) -> list[Detector]:
    """The project's detectors, in the order they run (cheap pattern detectors first); the embedding detectors
    share ``encoder`` (wrapped in a :class:`ServingEncoder` unless it is one, so a message is encoded once)."""
    config = project.guardrails
    vectors = encoder if isinstance(encoder, ServingEncoder) else ServingEncoder(encoder)
    detectors: list[Detector] = [
        detect_human_request(config.human_request),
        detect_prompt_injection(config.safety.injection_patterns),
        detect_other_customer_data(config.safety.other_customer_patterns),
        detect_pii(),
        detect_regulated_topic(taxonomy(config), vectors,
                               ordinary=[*ORDINARY, *(e.text for e in project.nlu.examples[:500])]),
        detect_complexity(config.complexity, vectors),
    ]
    if config.emotion.enabled:
        detectors.append(detect_emotion(load_model(config.emotion, project.path), vectors, config.emotion))
    return detectors


def build_policy(project: Project) -> ConfiguredPolicy:
    """The project's policy."""
    return ConfiguredPolicy(project.guardrails.policy, taxonomy(project.guardrails))


@dataclass(slots=True)
class Guardrails:
    """The input guards: the detectors, in the order they run, and the policy that decides on their signals."""

    detectors: list[Detector]
    policy: Policy


async def open_guardrails(project: Project, encoder: Encoder) -> Guardrails:
    """Build the detectors (example embeddings cached on disk) and the policy."""
    detectors = build_detectors(project, encoder)
    for detector in detectors:
        if isinstance(detector, detect_regulated_topic):
            await detector.warm(cache_dir(project.path, "guardrails"))
    return Guardrails(detectors, build_policy(project))
