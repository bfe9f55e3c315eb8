"""The ops control plane a process holds, opened once by :func:`open_ops` (see ``bot.app.runtime``)."""

from __future__ import annotations

from dataclasses import dataclass

from bot.infra.bus import EventBus
from bot.ops.breaker import CircuitBreaker, webhook_notifier
from bot.ops.gate import IntentScopeGate, ScopeGate
from bot.ops.releases import ReleaseStore
from bot.ops.scope import ScopeService
from bot.project import Project
from bot.storage import Database


@dataclass(slots=True)
class Ops:
    """The automation scope (the roll-back switch), its two turn gates and its circuit breaker."""

    scope: ScopeService
    """The versioned scope; every worker holds the same one."""
    breaker: CircuitBreaker
    """Watches the engine's events and switches a failing flow off."""
    gate: ScopeGate
    """Stage 3's check (automation, channel, active flow, rollout)."""
    intent_gate: IntentScopeGate
    """The check after understanding (the intent and the flow it would start)."""

    def start(self, bus: EventBus) -> None:
        """Start watching the engine's events (the breaker)."""
        self.breaker.start(bus)

    async def close(self) -> None:
        await self.breaker.close()
        await self.scope.close()


async def open_ops(project: Project, database: Database, *, redis_url: str | None = None) -> Ops:
    """Record the deployed release, open the scope history (listening on Redis when ``redis_url``), make the
    breaker and the gates."""
    releases = ReleaseStore(database)
    await releases.setup()
    await releases.record(project)
    scope = ScopeService(database, project.guardrails.scope, redis_url=redis_url, flows=project.flows,
                         intents=project.nlu.intents)
    await scope.setup()
    await scope.start()
    config = project.guardrails.breaker
    breaker = CircuitBreaker(config, scope, notify=webhook_notifier(config.notify_url) if config.notify_url else None)
    return Ops(scope, breaker, ScopeGate(scope), IntentScopeGate(scope, project))
