"""``stub_custom_actions``: replace business actions with canned events and responses, per conversation.

:class:`StubbingExecutor` wraps the flow runner's action executor; a test case registers its stubs for
its own conversation id, so concurrent cases never see each other's stubs and real actions still run
for everything not stubbed.
"""

from __future__ import annotations

from typing import Any

from bot.flows.actions.executor import ActionResult, Executor
from bot.pipeline.engine import Engine
from bot.pipeline.turn import Turn
from evals.format import ActionStub


class StubbingExecutor(Executor):
    """Runs a registered stub for (conversation, action); otherwise the wrapped executor."""

    def __init__(self, inner: Executor | None) -> None:
        self.inner = inner
        self._stubs: dict[str, dict[str, ActionStub]] = {}

    def register(self, conversation_id: str, stubs: dict[str, ActionStub]) -> None:
        """Stub these actions in ``conversation_id`` (replaces earlier stubs of that conversation)."""
        self._stubs[conversation_id] = dict(stubs)

    def forget(self, conversation_id: str) -> None:
        self._stubs.pop(conversation_id, None)

    def knows(self, name: str) -> bool:
        return self.inner.knows(name) if self.inner is not None else False

    async def run(self, name: str, turn: Turn) -> ActionResult:
        stub = self._stubs.get(turn.conversation_id, {}).get(name)
        if stub is not None:
            return ActionResult([dict(e) for e in stub.events], [dict(r) for r in stub.responses])
        if self.inner is None:
            from bot.kernel.errors import ProviderError

            raise ProviderError(f"no executor for {name!r} and no stub", provider="actions", permanent=True)
        return await self.inner.run(name, turn)

    async def close(self) -> None:
        if self.inner is not None:
            await self.inner.close()


def install(engine: Engine) -> StubbingExecutor | None:
    """Wrap the executor of the engine's flow runner (once); ``None`` when the engine has no flow runner."""
    for stage in engine.stages:
        runner: Any = getattr(stage, "runner", None)
        if runner is not None and hasattr(runner, "executor"):
            current = runner.executor
            stubbing = current if isinstance(current, StubbingExecutor) else StubbingExecutor(current)
            runner.executor = stubbing
            return stubbing
    return None
