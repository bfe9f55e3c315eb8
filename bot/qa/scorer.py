"""Score finished conversations under the scorecard: read their events, run every check, store the rows.

:meth:`Scorer.score_pending` is what every worker runs on a timer and ``careline qa score`` runs once: it asks
the store for finished conversations without a score under the current version (or with events newer than
their score), reads their events in batches, runs the checks in a worker thread (pure Python, no I/O) and
stores each conversation's rows in one transaction. Two workers racing on one conversation store it once
(:mod:`bot.qa.store`), so running it everywhere is safe.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bot.infra.embeddings import ServingEncoder
from bot.infra.logs import get_logger
from bot.kernel.events import FlowStarted, event_from_dict
from bot.qa.agent_checks import agent_sessions
from bot.qa.base import CheckContext, Verdict
from bot.qa.checks import CHECKS
from bot.qa.judge import LLMJudge
from bot.qa.scorecard import Scorecard
from bot.qa.store import ConversationScore, CriterionScore, QAStore
from bot.qa.transcript import Conversation
from bot.storage import Database

log = get_logger(__name__)

BATCH = 200
"""Conversations read and scored per round trip."""


@dataclass(slots=True)
class ScoreRun:
    """What one :meth:`Scorer.score_pending` call did."""

    scored: int = 0
    skipped: int = 0
    """Conversations another worker stored first."""
    failures: int = 0
    """Criterion failures found in what this call stored."""
    seconds: float = 0.0
    ids: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scored": self.scored, "skipped": self.skipped, "failures": self.failures,
                "seconds": round(self.seconds, 3)}


def score_conversation(scorecard: Scorecard, conversation: Conversation, context: CheckContext,
                       *, last_seq: int, created_at: float, judged: dict[str, Verdict] | None = None,
                       now: float | None = None) -> ConversationScore:
    """Run every criterion of ``scorecard`` on ``conversation`` (``judged``: verdicts of ``llm`` criteria)."""
    results = []
    for criterion in scorecard.criteria:
        spec = CHECKS[criterion.check]
        if spec.kind == "llm":
            verdict = (judged or {}).get(criterion.id) or spec.run(conversation, criterion.params, context)
        else:
            verdict = spec.run(conversation, criterion.params, context)
        results.append(CriterionScore(criterion.id, verdict.passed, criterion.weight, verdict.evidence, verdict.note))
    applicable = [c for c in results if c.passed is not None]
    total = sum(c.weight for c in applicable)
    score = round(sum(c.weight for c in applicable if c.passed) / total, 4) if total else None
    sessions = agent_sessions(conversation)
    facts = {"sessions": [{"agent": s.agent, "first_response_seconds": s.first_response_seconds,
                           "handling_seconds": s.handling_seconds, "ended_by": s.ended_by, "notes": s.notes}
                          for s in sessions]}
    flows = tuple(dict.fromkeys(e.flow_id for _, e in conversation.of(FlowStarted)))
    return ConversationScore(
        conversation.conversation_id, scorecard.version, last_seq, time.time() if now is None else now, created_at,
        conversation.channel_of(), conversation.kind, tuple(conversation.agents()), flows, score, tuple(results),
        facts)


def embedding_similarity(encoder: ServingEncoder) -> Any:
    """A :data:`~bot.qa.base.Similarity` over ``encoder``'s vectors (memoized by the encoder)."""
    def similarity(a: str, b: str) -> float:
        vectors = encoder.encode([a, b])
        return float(np.dot(vectors[0], vectors[1]))
    return similarity


class Scorer:
    """Scores a store's finished conversations under one scorecard."""

    def __init__(self, database: Database, scorecard: Scorecard, *, encoder: ServingEncoder | None = None,
                 judge: LLMJudge | None = None) -> None:
        self.database = database
        self.scorecard = scorecard
        self.store = QAStore(database)
        self.encoder = encoder
        self.judge = judge

    async def setup(self) -> None:
        await self.store.setup()

    async def score_pending(self, *, now: float | None = None, limit: int = 100_000) -> ScoreRun:
        """Score every finished conversation that has no current score (at most ``limit``)."""
        started = time.perf_counter()
        now = time.time() if now is None else now
        run = ScoreRun()
        finished_before = now - self.scorecard.idle_minutes * 60
        contacts = await self._contacts()
        use_vectors = self.encoder is not None and self.scorecard.similarity == "embedding"
        context = CheckContext(similarity=embedding_similarity(self.encoder) if use_vectors and self.encoder else None,
                               later_contacts=contacts)
        # one query for the whole backlog (ids only): paging the LEFT JOIN batch by batch would rescan the rows
        # already scored each time (quadratic over a large backlog)
        backlog = await self.store.pending(self.scorecard.version, finished_before=finished_before, limit=limit)
        for start in range(0, len(backlog), BATCH):
            todo = backlog[start:start + BATCH]
            conversations = await self._read([cid for cid, _ in todo])
            scores = []
            for cid, _ in todo:
                conversation, last_seq, created_at = conversations[cid]
                judged = await self._judge(conversation)
                scores.append((conversation, last_seq, created_at, judged))
            computed = await asyncio.to_thread(lambda batch=scores: [  # type: ignore[misc]
                score_conversation(self.scorecard, c, context, last_seq=s, created_at=t, judged=j, now=now)
                for c, s, t, j in batch])
            fresh = [(cid, score) for (cid, replaces), score in zip(todo, computed, strict=True) if replaces is None]
            stored = dict(zip([cid for cid, _ in fresh], await self.store.save_many([s for _, s in fresh]),
                              strict=True))
            for (cid, replaces), score in zip(todo, computed, strict=True):
                if replaces is not None:
                    stored[cid] = await self.store.save(score, replaces=replaces)
            progress = False
            for (cid, _), score in zip(todo, computed, strict=True):
                if stored[cid]:
                    run.scored += 1
                    run.failures += len(score.failed)
                    run.ids.append(cid)
                    progress = True
                else:
                    run.skipped += 1
            if not progress:
                break  # another worker is storing the same backlog ahead of us: leave the rest to it
        run.seconds = time.perf_counter() - started
        if run.scored or run.skipped:
            log.info("qa_scored", version=self.scorecard.version, scored=run.scored, skipped=run.skipped,
                     failures=run.failures, seconds=round(run.seconds, 3))
        return run

    async def _judge(self, conversation: Conversation) -> dict[str, Verdict]:
        if self.judge is None:
            return {}
        out = {}
        for criterion in self.scorecard.criteria:
            if CHECKS[criterion.check].kind == "llm":
                out[criterion.id] = await self.judge.judge(conversation, {**CHECKS[criterion.check].params,
                                                                          **criterion.params})
        return out

    async def _read(self, ids: Sequence[str]) -> dict[str, tuple[Conversation, int, float]]:
        """Events and index rows of ``ids`` in two queries."""
        marks = ", ".join("?" * len(ids))
        index = {r["conversation_id"]: r for r in await self.database.fetch(
            f"SELECT conversation_id, channel, created_at, last_seq FROM conversations "  # noqa: S608
            f"WHERE conversation_id IN ({marks})", *ids)}
        rows = await self.database.fetch(
            f"SELECT conversation_id, type, timestamp, data FROM events WHERE conversation_id IN ({marks}) "  # noqa: S608
            "ORDER BY conversation_id, seq", *ids)
        events: dict[str, list[Any]] = {cid: [] for cid in ids}
        for row in rows:
            try:
                data = json.loads(row["data"])
                events[row["conversation_id"]].append(
                    event_from_dict({"type": row["type"], "timestamp": row["timestamp"], **data}))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("qa_event_unreadable", conversation_id=row["conversation_id"], error=str(exc)[:120])
        out = {}
        for cid in ids:
            meta = index.get(cid)
            out[cid] = (Conversation(cid, tuple(events[cid]), meta["channel"] if meta else None),
                        int(meta["last_seq"]) if meta else len(events[cid]),
                        float(meta["created_at"]) if meta else 0.0)
        return out

    async def _contacts(self) -> dict[str, tuple[float, ...]]:
        """Customer id → start of each of their conversations (the ``customer_id`` slot)."""
        if not any(c.check == "no_repeat_contact" for c in self.scorecard.criteria):
            return {}
        rows = await self.database.fetch(
            "SELECT e.data AS data, c.created_at AS created_at FROM events e JOIN conversations c "
            "ON c.conversation_id = e.conversation_id WHERE e.type = 'slot' AND e.data LIKE ?", '%"customer_id"%')
        contacts: dict[str, list[float]] = {}
        for row in rows:
            try:
                data = json.loads(row["data"])
            except ValueError:
                continue
            if data.get("name") == "customer_id" and data.get("value"):
                contacts.setdefault(str(data["value"]), []).append(float(row["created_at"]))
        return {k: tuple(sorted(set(v))) for k, v in contacts.items()}
