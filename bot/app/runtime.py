"""Assemble an :class:`~bot.pipeline.engine.Engine` from a project and settings (models load once here)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from bot.customers.continuity import ResumeMatter
from bot.customers.identity import IdentityVerifier, verifier_for
from bot.customers.retention import RetentionJob
from bot.customers.store import CustomerStore
from bot.customers.timeline import Timeline
from bot.customers.wiring import open_continuity
from bot.flows.backend.base import Backend
from bot.flows.progress import waiting_question
from bot.flows.setup import flow_runner, make_backend
from bot.guardrails.human_request import EscalateOnRequest, detect_human_request
from bot.guardrails.wiring import Guardrails, open_guardrails
from bot.handoff.service import HandoffService, handoff_stages, make_desk
from bot.infra.bus import EventBus, RedisEventBus
from bot.infra.cache import cache_dir
from bot.infra.embeddings import Embedder, Encoder, ServingEncoder, shared_embedder
from bot.infra.locks import make_locks
from bot.infra.logs import get_logger
from bot.infra.settings import Settings
from bot.nlu.embedding_classifier import EmbeddingIntentClassifier
from bot.nlu.llm_commands import with_llm_commands
from bot.nlu.normalize import normalize_spoken
from bot.nlu.questions import policy_question
from bot.nlu.understander import Understander, regex_extractor
from bot.ops.wiring import Ops, open_ops
from bot.outbound import OutboundService, OutboundStore
from bot.pipeline.engine import Engine
from bot.pipeline.stages import (
    AllowAll,
    Dialogue,
    InputGuards,
    Knowledge,
    KnowledgeAnswerer,
    Normalize,
    PolicyQuestion,
    ReadReply,
    Scope,
    ScopeAfterUnderstanding,
    Stage,
    Understand,
    closing_stages,
    collapse_whitespace,
)
from bot.project import Project
from bot.qa.scorecard import load_scorecard
from bot.qa.store import QAFlags
from bot.storage import ConversationStore, Database, open_database

log = get_logger(__name__)


@dataclass(slots=True)
class Runtime:
    """Everything one process holds: the engine and what it was built from."""

    settings: Settings
    project: Project
    database: Database
    engine: Engine
    guardrails: Guardrails | None = None
    """The input guards' detectors and policy."""
    ops: Ops | None = None
    """The automation scope (the roll-back switch), its turn gates and its circuit breaker."""
    handoff: HandoffService | None = None
    """Queue views and agent actions (claim, reply, transfer, return to bot, close)."""
    backend: Backend | None = None
    """The business systems the flows' actions call (closed with the runtime)."""
    understander: Understander | None = None
    """Intents and entities (its LLM client, if any, is closed with the runtime)."""
    encoder: ServingEncoder | None = None
    """The one encoder of every stage (guards, understanding, knowledge)."""
    customers: CustomerStore | None = None
    """Customer records: verified conversations linked across channels (:mod:`bot.customers`)."""
    retention: RetentionJob | None = None
    """The retention job (``retention:`` in config.yml); scheduled in the background when configured."""
    retention_task: asyncio.Task[None] | None = None
    identity: IdentityVerifier | None = None
    """Checks the embedding site's signed identity tokens (``customers.identity_token``), when configured."""
    outbound: OutboundService | None = None
    """Outbound campaigns over the same store and backend (the connectors add its channels)."""

    async def close(self) -> None:
        if self.retention_task is not None:
            self.retention_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.retention_task
        if self.retention is not None:
            await self.retention.settle()
        if self.ops is not None:
            await self.ops.close()
        if self.backend is not None:
            await self.backend.close()
        if self.understander is not None:
            await self.understander.close()
        await self.engine.bus.close()
        await self.engine.locks.close()
        await self.database.close()


def serving_encoder(project: Project, embedder: Embedder) -> ServingEncoder:
    """The encoder every stage of a turn uses: the int8 ONNX export of ``embedder``'s model (exported once into
    the project's cache), memoized per text; ``embedder`` itself (torch) only when the export fails."""
    from bot.nlu.training import onnx_encoder_for

    onnx = onnx_encoder_for(embedder.model_path, cache_dir(project.path, "nlu"))
    return ServingEncoder(onnx if onnx is not None else embedder)


def train_understander(project: Project, embedder: Embedder, *, serving: Encoder | None = None,
                       onnx: bool = True) -> Understander:
    """Train (or load from cache) the intent classifier for ``project`` on ``embedder``'s vectors; serve it
    through ``serving`` when given, else (when ``onnx``) through the int8 ONNX export of the encoder (falling
    back to sentence-transformers if the export fails). The LLM command generator is attached when
    ``nlu.llm_commands`` asks for it."""
    from bot.nlu.entities import warm_up
    from bot.nlu.training import onnx_encoder_for

    examples = project.nlu.examples
    cache = cache_dir(project.path, "nlu")
    classifier = EmbeddingIntentClassifier.train(
        embedder, [e.text for e in examples], [e.intent for e in examples], cache=cache,
        lexical_weight=project.config.nlu.lexical_weight,
    )
    encoder = serving if serving is not None else onnx_encoder_for(embedder.model_path, cache) if onnx else None
    if encoder is not None:
        classifier = classifier.with_encoder(encoder)
    warm_up()
    extractors = [regex_extractor(entity, patterns) for entity, patterns in project.nlu.regexes.items()]
    understander = Understander(classifier, threshold=project.config.nlu.threshold, extractors=extractors,
                                synonyms=project.nlu.synonyms, locale=project.config.locale)
    return with_llm_commands(understander, project)


KNOWLEDGE_PACKAGES = {"faiss": "faiss-cpu"}
"""The third-party modules the knowledge base imports when it opens, and the package that installs each."""


def open_knowledge(project: Project, embedder: Encoder) -> KnowledgeAnswerer | None:
    """The project's knowledge base, or ``None`` when it has no documents or knowledge is off.

    When a module in :data:`KNOWLEDGE_PACKAGES` is missing, the bot runs without knowledge and logs
    ``knowledge_disabled`` (error) naming the module and the package to install; any other import error is a bug
    and propagates.
    """
    if not project.config.knowledge.enabled or not project.knowledge_dir.is_dir():
        return None
    from bot.knowledge import KnowledgeBase

    try:
        kb: KnowledgeAnswerer = KnowledgeBase.open(
            project.path, project.config.knowledge, embedder=embedder, llm=project.config.llm,
            knowledge_dir=project.knowledge_dir,
        )
    except ModuleNotFoundError as exc:
        module = (exc.name or "").partition(".")[0]
        if module not in KNOWLEDGE_PACKAGES:
            raise
        log.error("knowledge_disabled", missing_module=exc.name, install=f"pip install {KNOWLEDGE_PACKAGES[module]}",
                  project=str(project.path))
        return None
    return kb


def default_stages(project: Project, understander: Understander, knowledge: KnowledgeAnswerer | None,
                   *, guardrails: Guardrails | None = None,
                   ops: Ops | None = None, backend: Backend | None = None,
                   resume: ResumeMatter | None = None) -> list[Stage]:
    """The standard answering chain: normalize → csat → reply → scope → input guards → understand → scope after
    understanding → policy question → dialogue → knowledge (the engine stops it at the first stage that answers
    or escalates; :func:`~bot.pipeline.stages.closing_stages` run after it).

    Without ``guardrails`` the guards only honour explicit requests for a human; without ``ops`` the bot serves
    everything; without ``backend`` the flows use the one ``backend:`` in config.yml selects; ``resume`` (the
    answer to an offered open matter, :mod:`bot.customers.continuity`) runs right after the reply reader.
    """
    runner = flow_runner(project, backend)
    return [
        Normalize((collapse_whitespace, normalize_spoken)),
        *handoff_stages(project),
        ReadReply(lambda state: waiting_question(state, project.flows)),
        *((resume,) if resume is not None else ()),
        Scope(ops.gate if ops else AllowAll()),
        InputGuards(guardrails.detectors, guardrails.policy) if guardrails else
        InputGuards([detect_human_request(project.guardrails.human_request)], EscalateOnRequest()),
        Understand(understander),
        ScopeAfterUnderstanding(ops.intent_gate if ops else AllowAll()),
        PolicyQuestion(knowledge, lambda turn: runner.starting_flow(turn) is not None, policy_question),
        Dialogue(runner),
        Knowledge(knowledge),
    ]


def default_database_url(project: Project) -> str:
    """SQLite in the project's cache folder."""
    return f"sqlite:///{cache_dir(project.path) / 'careline.db'}"


async def build_runtime(settings: Settings, project: Project, *, embedder: Embedder | None = None) -> Runtime:
    """Open the store, train/load models and wire the engine."""
    embedder = embedder or shared_embedder()
    backend = make_backend(project)  # may refuse the configuration: before anything is opened
    identity = verifier_for(project.config.customers.identity_token, path=project.path / "config.yml")
    database = await open_database(settings.database_url or default_database_url(project))
    store = ConversationStore(database)
    await store.setup()
    serving = serving_encoder(project, embedder)
    understander = train_understander(project, embedder, serving=serving)
    knowledge = open_knowledge(project, serving)
    bus = RedisEventBus(settings.redis_url) if settings.redis_url else EventBus()
    await bus.start()
    continuity = await open_continuity(project, database, store)
    scorecard = load_scorecard(project.path)
    timeline = Timeline(continuity.customers, store, project,
                        qa_flags=QAFlags(database, scorecard.version if scorecard else None))
    desk = make_desk(project, database, history=timeline.history)
    guardrails = await open_guardrails(project, serving)
    ops = await open_ops(project, database, redis_url=settings.redis_url)
    engine = Engine(project, store, default_stages(project, understander, knowledge, guardrails=guardrails, ops=ops,
                                                   backend=backend, resume=continuity.resume),
                    closing=[continuity.link, *closing_stages(desk)], locks=make_locks(settings.redis_url), bus=bus,
                    client_key=settings.client_key)
    continuity.attach(engine.record_with)
    retention = RetentionJob(database, project, forget=engine.states.take)
    await retention.setup()
    engine.observers.append(retention.observe)
    retention_task = asyncio.create_task(retention.forever()) if retention.configured() else None
    ops.start(engine.bus)
    log.info("runtime_ready", project=str(project.path), database=database.dialect,
             knowledge=knowledge is not None, backend=project.config.backend.type,
             llm_commands=project.config.nlu.llm_commands if understander.llm is not None else "off")
    handoff = HandoffService(engine, database, project.config.handoff, history=timeline.history)
    await handoff.setup()
    outbound = OutboundService(OutboundStore(database), backend, project.config.outbound)
    await outbound.setup()
    return Runtime(settings, project, database, engine, handoff=handoff, guardrails=guardrails, ops=ops,
                   backend=backend, understander=understander, encoder=serving, customers=continuity.customers,
                   retention=retention, retention_task=retention_task, identity=identity,
                   outbound=outbound)


async def open_outbound(settings: Settings, project: Project) -> tuple[OutboundService, Database]:
    """The outbound service alone (no models): the deployment's store and the project's backend, for the
    ``careline outbound`` commands. Close the database when done."""
    database = await open_database(settings.database_url or default_database_url(project))
    service = OutboundService(OutboundStore(database), make_backend(project), project.config.outbound)
    await service.setup()
    return service, database
