"""Where test cases run: the engine in this process, or a running server's REST API (``--url``).

Both report each turn as the events it appended, so assertions cannot tell them apart. Over HTTP the
events come back from ``GET /conversations/{id}/tracker`` (admin token) and are rebuilt from the
Rasa-shaped tracker JSON.
"""

from __future__ import annotations

import abc
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from bot.customers.continuity import LinkVerified
from bot.kernel.errors import CarelineError, ProviderError
from bot.kernel.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered, event_from_dict
from bot.kernel.messages import UserMessage
from bot.nlu.payload import parse_payload
from bot.pipeline.engine import Engine
from evals.assertions import CheckContext
from evals.format import Case
from evals.stubs import StubbingExecutor, install

if TYPE_CHECKING:
    from bot.app.runtime import Runtime
    from bot.infra.embeddings import ServingEncoder
    from bot.ops.scope import ScopeService


class TargetError(CarelineError):
    """The target cannot run this case (e.g. fixtures or stubs over HTTP); the case errors, others go on."""


class Target(abc.ABC):
    """Something that takes customer messages and reports the events they caused."""

    name: str = "target"

    @abc.abstractmethod
    async def start(self, conversation_id: str, case: Case) -> list[Event]:
        """Prepare a fresh conversation for ``case`` (fixtures); returns its events so far."""

    @abc.abstractmethod
    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> tuple[list[Event], float]:
        """Send one message; returns the conversation's events afterwards and the turn's latency in ms."""

    def document_text(self, doc_id: str) -> str | None:
        """The text of knowledge document ``doc_id``, when this target can read it."""
        return None

    def check_context(self) -> CheckContext:
        """What assertions may consult on this target besides the turns (document texts, the embedding model)."""
        return CheckContext(document_text=self.document_text)

    @asynccontextmanager
    async def scoped(self, changes: dict[str, Any]) -> AsyncIterator[None]:
        """Run with the automation scope changed (the runner runs such cases alone), then restore it."""
        raise TargetError(f"the {self.name} target cannot change the automation scope")
        yield  # pragma: no cover - makes this an async generator

    async def finish(self, conversation_id: str) -> None:
        """Forget per-conversation set-up (stubs)."""

    async def close(self) -> None:
        """Release connections."""


def _message(text: str, metadata: dict[str, Any]) -> UserMessage:
    channel = str(metadata.get("channel", "rest"))
    return UserMessage(text, channel, dict(metadata))


class InProcessTarget(Target):
    """Runs cases on an :class:`~bot.pipeline.engine.Engine` in this process."""

    name = "in-process"

    def __init__(self, engine: Engine, *, scope: ScopeService | None = None,
                 encoder: ServingEncoder | None = None) -> None:
        self.engine = engine
        self.project = engine.project
        self.scope = scope
        self.encoder = encoder
        self._stubs: StubbingExecutor | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> InProcessTarget:
        """A target on ``runtime``'s engine that can also change its automation scope. Its cases are independent
        contacts: a case that verifies a customer is never offered another case's open matter."""
        for stage in runtime.engine.closing:
            if isinstance(stage, LinkVerified):
                stage.finder.across_conversations = False
        return cls(runtime.engine, scope=runtime.ops.scope if runtime.ops is not None else None,
                   encoder=runtime.encoder)

    def check_context(self) -> CheckContext:
        return CheckContext(document_text=self.document_text, flows_of_payload=self.flows_of_payload,
                            response_text=self.response_text,
                            similarity=self.similarity if self.encoder is not None else None)

    def similarity(self, text: str, others: Sequence[str]) -> list[float]:
        """Cosine of ``text`` to each of ``others`` under the project's serving encoder."""
        if self.encoder is None or not others:
            return [0.0 for _ in others]
        vectors = self.encoder.encode([text, *others])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def flows_of_payload(self, payload: str) -> tuple[str, ...]:
        """The flows a button payload starts: the flow named like its intent, or triggered by it."""
        parsed = parse_payload(payload)
        if parsed is None:
            return ()
        flows = self.project.flows
        return tuple(f for f, flow in flows.items()
                     if f == parsed.intent or any(t.intent == parsed.intent for t in flow.nlu_trigger))

    def response_text(self, name: str) -> str | None:
        """The text of domain response ``name`` (its first variant)."""
        variant = self.project.response(name)
        return variant.text if variant is not None else None

    async def start(self, conversation_id: str, case: Case) -> list[Event]:
        if case.stubs:
            if self._stubs is None:
                self._stubs = install(self.engine)
            if self._stubs is None:
                raise TargetError("stub_custom_actions need the flow runner's action executor; this engine has none")
            self._stubs.register(conversation_id, case.stubs)
        if case.slots:
            await self.engine.record(conversation_id, [SlotSet(name=k, value=v) for k, v in case.slots.items()])
        return list((await self.engine.state(conversation_id)).events)

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> tuple[list[Event], float]:
        started = time.perf_counter()
        await self.engine.handle(conversation_id, _message(text, metadata))
        latency = (time.perf_counter() - started) * 1000
        return list((await self.engine.state(conversation_id)).events), latency

    async def finish(self, conversation_id: str) -> None:
        if self._stubs is not None:
            self._stubs.forget(conversation_id)

    @asynccontextmanager
    async def scoped(self, changes: dict[str, Any]) -> AsyncIterator[None]:
        if self.scope is None:
            raise TargetError("this engine has no automation scope to change")
        before = self.scope.current.version
        await self.scope.update(changes, author="careline-eval", reason="test case scope override")
        try:
            yield
        finally:
            await self.scope.rollback(before, author="careline-eval", reason="test case scope override ended")

    def document_text(self, doc_id: str) -> str | None:
        root = self.project.knowledge_dir
        if not root.is_dir() or ".." in Path(doc_id).parts:
            return None
        for candidate in sorted(root.glob(f"{doc_id}.*")):
            try:
                return candidate.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
        return None


def event_from_tracker(data: dict[str, Any]) -> Event:
    """One tracker event (Rasa's shape for user/bot/slot/action, ours for the rest) back as an :class:`Event`."""
    kind = data.get("event")
    stamp = float(data.get("timestamp") or 0.0)
    if kind == "user":
        parse = data.get("parse_data") or {}
        intent = parse.get("intent") or {}
        return UserUttered(text=data.get("text") or "", channel=data.get("input_channel") or "rest",
                           intent=intent.get("name"), confidence=float(intent.get("confidence") or 0.0),
                           entities=tuple(parse.get("entities") or ()),
                           ranking=tuple(parse.get("intent_ranking") or ()),
                           metadata=data.get("metadata") or {}, for_agent=bool(data.get("for_agent")),
                           timestamp=stamp)
    if kind == "bot":
        extra = data.get("data") or {}
        return BotUttered(text=data.get("text") or "", response=(data.get("metadata") or {}).get("utter_action"),
                          buttons=tuple(extra.get("buttons") or ()), citations=tuple(extra.get("citations") or ()),
                          interrupted=bool(data.get("interrupted")), timestamp=stamp)
    if kind == "slot":
        return SlotSet(name=data["name"], value=data.get("value"), timestamp=stamp)
    if kind == "action":
        return ActionExecuted(name=data["name"], ok=bool(data.get("ok", True)), error=data.get("error"),
                              timestamp=stamp)
    rest = {k: v for k, v in data.items() if k != "event"}
    return event_from_dict({"type": kind, **rest})


class HttpTarget(Target):
    """Runs cases against a server: ``POST /webhooks/rest/webhook``, then reads the tracker."""

    name = "http"

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def start(self, conversation_id: str, case: Case) -> list[Event]:
        if case.slots:
            raise TargetError("fixtures (pre-set slots) need the in-process runner; the REST API cannot set slots")
        if case.stubs:
            raise TargetError("stub_custom_actions need the in-process runner")
        return []

    async def send(self, conversation_id: str, text: str, metadata: dict[str, Any]) -> tuple[list[Event], float]:
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        started = time.perf_counter()
        await self._call("POST", "/webhooks/rest/webhook", json=body)
        latency = (time.perf_counter() - started) * 1000
        tracker = await self._call("GET", f"/conversations/{conversation_id}/tracker",
                                   headers={"Authorization": f"Bearer {self.token}"})
        return [event_from_tracker(e) for e in tracker.get("events", [])], latency

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = self.base_url + path
        try:
            async with self.session.request(method, url, **kwargs) as response:
                if response.status >= 400:
                    detail = (await response.text())[:300]
                    raise ProviderError(f"{method} {url} answered HTTP {response.status}: {detail}",
                                        provider="careline-server", permanent=response.status < 500)
                return await response.json()
        except aiohttp.ClientError as exc:
            raise ProviderError(f"{method} {url} failed: {exc}", provider="careline-server") from exc
        except TimeoutError as exc:
            raise ProviderError(f"{method} {url} timed out", provider="careline-server") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def new_events(before: Sequence[Event], after: Sequence[Event]) -> list[Event]:
    """The events appended since ``before`` was read."""
    return list(after[len(before):])
