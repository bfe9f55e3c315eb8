"""Everything guardrails a process holds, opened once by :func:`open_guardrails` (see ``bot.runtime``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.bus import EventBus
from bot.cache import cache_dir
from bot.guardrails.base import Detector, Policy
from bot.guardrails.breaker import CircuitBreaker, webhook_notifier
from bot.guardrails.complexity import detect_complexity
from bot.guardrails.emotion import detect_emotion, load_head
from bot.guardrails.encoding import SharedVectors
from bot.guardrails.gate import IntentScopeGate, ScopeGate
from bot.guardrails.human_request import detect_human_request
from bot.guardrails.policy import ConfiguredPolicy
from bot.guardrails.regulated import ORDINARY, detect_regulated_topic
from bot.guardrails.releases import ReleaseStore
from bot.guardrails.safety import detect_other_customer_data, detect_pii, detect_prompt_injection
from bot.guardrails.scope import ScopeService
from bot.guardrails.taxonomy import taxonomy
from bot.nlu.base import Encoder
from bot.project import Project
from bot.storage import Database


def build_detectors(project: Project, encoder: Encoder) -> list[Detector]:
    """The project's detectors, in the order they run (cheap pattern detectors first)."""
    config = project.guardrails
    vectors = SharedVectors(encoder)
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
        detectors.append(detect_emotion(load_head(config.emotion, project.path), vectors, config.emotion))
    return detectors


def build_policy(project: Project) -> ConfiguredPolicy:
    """The project's policy."""
    return ConfiguredPolicy(project.guardrails.policy, taxonomy(project.guardrails))


@dataclass(slots=True)
class Guardrails:
    """The detectors and policy of the input guards, the automation scope and its circuit breaker."""

    detectors: list[Detector]
    policy: Policy
    scope: ScopeService
    breaker: CircuitBreaker
    gate: ScopeGate
    intent_gate: IntentScopeGate

    def start(self, bus: EventBus) -> None:
        """Start watching the engine's events (the breaker)."""
        self.breaker.start(bus)

    async def close(self) -> None:
        await self.breaker.close()
        await self.scope.close()


async def open_guardrails(project: Project, database: Database, encoder: Encoder, *,
                          redis_url: str | None = None) -> Guardrails:
    """Build the detectors (example embeddings cached on disk), record the deployed release, open the scope
    history, make the breaker."""
    detectors = build_detectors(project, encoder)
    for detector in detectors:
        if isinstance(detector, detect_regulated_topic):
            await detector.warm(cache_dir(project.path, "guardrails"))
    releases = ReleaseStore(database)
    await releases.setup()
    await releases.record(project)
    scope = ScopeService(database, project.guardrails.scope, redis_url=redis_url, flows=project.flows,
                         intents=project.nlu.intents)
    await scope.setup()
    await scope.start()
    config = project.guardrails.breaker
    breaker = CircuitBreaker(config, scope, notify=webhook_notifier(config.notify_url) if config.notify_url else None)
    return Guardrails(detectors, build_policy(project), scope, breaker, ScopeGate(scope),
                      IntentScopeGate(scope, project))
