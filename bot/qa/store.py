"""Where scores live: one row per (conversation, scorecard version) in ``qa_runs`` and one per criterion in
``qa_scores``; human reviews ("this score is wrong") in ``qa_reviews``.

Idempotent on every worker: a conversation is scored under a version by one transaction that inserts its
``qa_runs`` row first; the primary key ``(conversation_id, scorecard_version)`` lets exactly one of two racing
workers commit (the other's transaction fails with a conflict and is dropped, see
:meth:`QAStore.save`). A conversation that got new events after it was scored (the customer came back) is
scored again: the worker that deletes the old run row (``DELETE ... RETURNING``, which only one of two can
do) writes the new one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.customers.registry import DataTable, register
from bot.kernel.errors import ConcurrentWriteError
from bot.storage import Database

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS qa_runs (
        conversation_id TEXT NOT NULL,
        scorecard_version TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        scored_at {float} NOT NULL,
        created_at {float} NOT NULL,
        channel TEXT,
        kind TEXT NOT NULL,
        agents TEXT,
        flows TEXT,
        score {float},
        failed INTEGER NOT NULL,
        facts {json} NOT NULL,
        PRIMARY KEY (conversation_id, scorecard_version))""",
    "CREATE INDEX IF NOT EXISTS qa_runs_created ON qa_runs (scorecard_version, created_at)",
    """CREATE TABLE IF NOT EXISTS qa_scores (
        conversation_id TEXT NOT NULL,
        scorecard_version TEXT NOT NULL,
        criterion TEXT NOT NULL,
        passed INTEGER,
        weight {float} NOT NULL,
        evidence {json} NOT NULL,
        note TEXT NOT NULL,
        PRIMARY KEY (conversation_id, scorecard_version, criterion))""",
    "CREATE INDEX IF NOT EXISTS qa_scores_criterion ON qa_scores (scorecard_version, criterion, passed)",
    """CREATE TABLE IF NOT EXISTS qa_reviews (
        id {id},
        conversation_id TEXT NOT NULL,
        scorecard_version TEXT NOT NULL,
        criterion TEXT NOT NULL,
        automatic INTEGER,
        human INTEGER,
        reviewer TEXT NOT NULL,
        comment TEXT NOT NULL,
        created_at {float} NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS qa_reviews_score ON qa_reviews (scorecard_version, criterion)",
)

register(
    DataTable("qa_runs", "conversation", "conversation_id", "delete",
              "one scoring of a conversation: channel, agents, flows, score and facts (times, counts)",
              retention="qa_scores", time_column="scored_at", id_column="conversation_id", owner="bot.qa"),
    DataTable("qa_scores", "conversation", "conversation_id", "delete",
              "per-criterion results with evidence turns (no time column: retention ages qa_runs, not these rows)",
              owner="bot.qa"),
    DataTable("qa_reviews", "conversation", "conversation_id", "delete",
              "an ops reviewer's verdict on a score (calibration)", retention="qa_scores", time_column="created_at",
              owner="bot.qa"),
)


@dataclass(frozen=True, slots=True)
class CriterionScore:
    """One criterion's row."""

    criterion: str
    passed: bool | None
    weight: float
    evidence: tuple[int, ...]
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "passed": self.passed, "weight": self.weight,
                "evidence": list(self.evidence), "note": self.note}


@dataclass(frozen=True, slots=True)
class ConversationScore:
    """A conversation scored under one scorecard version."""

    conversation_id: str
    scorecard_version: str
    last_seq: int
    scored_at: float
    created_at: float
    channel: str
    kind: str
    """``bot``, ``handed_off`` or ``agent``."""
    agents: tuple[str, ...]
    flows: tuple[str, ...]
    score: float | None
    """Weighted share of the applicable criteria passed (``None``: none applied)."""
    criteria: tuple[CriterionScore, ...]
    facts: dict[str, Any]
    """Agent facts: per session first response and handling seconds, notes."""

    @property
    def failed(self) -> list[CriterionScore]:
        return [c for c in self.criteria if c.passed is False]

    def to_dict(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "scorecard_version": self.scorecard_version,
                "last_seq": self.last_seq, "scored_at": self.scored_at, "created_at": self.created_at,
                "channel": self.channel, "kind": self.kind, "agents": list(self.agents), "flows": list(self.flows),
                "score": self.score, "criteria": [c.to_dict() for c in self.criteria], "facts": self.facts}


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class QAStore:
    """The QA tables in a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def setup(self) -> None:
        """Create the tables (idempotent; safe from several workers)."""
        await self.db.migrate(SCHEMA)

    async def save_many(self, scores: Sequence[ConversationScore]) -> list[bool]:
        """Store first-time scores in one transaction; when another worker stored any of them first (the
        transaction fails on its primary key), each is stored on its own instead. Returns which were stored."""
        if not scores:
            return []
        try:
            async with self.db.transaction() as tx:
                for score in scores:
                    await self._insert(tx, score)
        except ConcurrentWriteError:
            return [await self.save(score) for score in scores]
        return [True] * len(scores)

    async def _insert(self, tx: Any, score: ConversationScore) -> None:
        await tx.execute(
            "INSERT INTO qa_runs (conversation_id, scorecard_version, last_seq, scored_at, created_at, "
            "channel, kind, agents, flows, score, failed, facts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            score.conversation_id, score.scorecard_version, score.last_seq, score.scored_at,
            score.created_at, score.channel, score.kind, ",".join(score.agents), ",".join(score.flows),
            score.score, len(score.failed), json.dumps(score.facts))
        rows = [(score.conversation_id, score.scorecard_version, c.criterion, _flag(c.passed), c.weight,
                 json.dumps(list(c.evidence)), c.note) for c in score.criteria]
        if rows:
            placeholders = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            await tx.execute("INSERT INTO qa_scores (conversation_id, scorecard_version, criterion, passed, "  # noqa: S608
                             f"weight, evidence, note) VALUES {placeholders}", *(v for r in rows for v in r))

    async def save(self, score: ConversationScore, *, replaces: int | None = None) -> bool:
        """Store ``score``; False when another worker stored this conversation under this version first.

        ``replaces`` is the ``last_seq`` of the run being re-scored (the conversation got new events): its rows
        are deleted in the same transaction, by whichever worker gets there first.
        """
        try:
            async with self.db.transaction() as tx:
                if replaces is not None:
                    gone = await tx.fetch(
                        "DELETE FROM qa_runs WHERE conversation_id = ? AND scorecard_version = ? AND last_seq = ? "
                        "RETURNING conversation_id", score.conversation_id, score.scorecard_version, replaces)
                    if not gone:
                        return False
                    await tx.execute("DELETE FROM qa_scores WHERE conversation_id = ? AND scorecard_version = ?",
                                     score.conversation_id, score.scorecard_version)
                await self._insert(tx, score)
        except ConcurrentWriteError:
            return False
        return True

    async def pending(self, version: str, *, finished_before: float, limit: int) -> list[tuple[str, int | None]]:
        """Finished conversations not scored under ``version`` yet, or scored before their latest events:
        ``(conversation_id, last_seq of the old run or None)``. Finished: closed, or with the bot and idle
        since ``finished_before``."""
        rows = await self.db.fetch(
            """SELECT c.conversation_id AS cid, r.last_seq AS scored_seq FROM conversations c
               LEFT JOIN qa_runs r ON r.conversation_id = c.conversation_id AND r.scorecard_version = ?
               WHERE (r.conversation_id IS NULL OR r.last_seq < c.last_seq)
                 AND (c.status = 'closed' OR (c.status = 'bot' AND c.updated_at < ?))
               ORDER BY c.updated_at LIMIT ?""", version, finished_before, limit)
        return [(r["cid"], None if r["scored_seq"] is None else int(r["scored_seq"])) for r in rows]

    async def load(self, conversation_id: str, version: str) -> ConversationScore | None:
        """The stored score of one conversation under ``version``."""
        found = await self.runs(version, conversation_ids=[conversation_id])
        return found[0] if found else None

    async def runs(self, version: str, *, since: float | None = None, until: float | None = None,
                   conversation_ids: Sequence[str] | None = None, limit: int = 100_000) -> list[ConversationScore]:
        """Stored scores under ``version`` of conversations created in ``[since, until)`` (or of the ids given),
        newest first."""
        sql = "SELECT * FROM qa_runs WHERE scorecard_version = ?"
        args: list[Any] = [version]
        if since is not None:
            sql += " AND created_at >= ?"
            args.append(since)
        if until is not None:
            sql += " AND created_at < ?"
            args.append(until)
        if conversation_ids is not None:
            if not conversation_ids:
                return []
            sql += f" AND conversation_id IN ({', '.join('?' * len(conversation_ids))})"
            args.extend(conversation_ids)
        sql += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        runs = await self.db.fetch(sql, *args)
        if not runs:
            return []
        criteria: dict[str, list[CriterionScore]] = {}
        ids = [r["conversation_id"] for r in runs]
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows = await self.db.fetch(
                f"SELECT * FROM qa_scores WHERE scorecard_version = ? AND conversation_id IN "  # noqa: S608
                f"({', '.join('?' * len(chunk))})", version, *chunk)
            for row in rows:
                criteria.setdefault(row["conversation_id"], []).append(CriterionScore(
                    row["criterion"], _bool(row["passed"]), float(row["weight"]),
                    tuple(json.loads(row["evidence"])), row["note"]))
        return [ConversationScore(
            r["conversation_id"], r["scorecard_version"], int(r["last_seq"]), float(r["scored_at"]),
            float(r["created_at"]), r["channel"] or "unknown", r["kind"],
            tuple(a for a in (r["agents"] or "").split(",") if a), tuple(f for f in (r["flows"] or "").split(",") if f),
            None if r["score"] is None else float(r["score"]), tuple(criteria.get(r["conversation_id"], ())),
            json.loads(r["facts"])) for r in runs]

    async def review(self, conversation_id: str, version: str, criterion: str, *, reviewer: str,
                     human: bool | None, automatic: bool | None, comment: str, at: float) -> int:
        """Record a human's verdict on one automatic score; returns how many reviews that score has now."""
        await self.db.execute(
            "INSERT INTO qa_reviews (conversation_id, scorecard_version, criterion, automatic, human, reviewer, "
            "comment, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", conversation_id, version, criterion,
            _flag(automatic), _flag(human), reviewer, comment, at)
        return int(await self.db.fetchval(
            "SELECT COUNT(*) AS n FROM qa_reviews WHERE conversation_id = ? AND scorecard_version = ? "
            "AND criterion = ?", conversation_id, version, criterion) or 0)

    async def reviews(self, version: str) -> list[dict[str, Any]]:
        """Every review under ``version``, oldest first (the latest per score is the one that counts)."""
        rows = await self.db.fetch("SELECT * FROM qa_reviews WHERE scorecard_version = ? ORDER BY id", version)
        return [{**r, "automatic": _bool(r["automatic"]), "human": _bool(r["human"])} for r in rows]


class QAFlags:
    """The criteria a conversation failed under the current scorecard (the customer timeline's QA flags);
    nothing when the project has no scorecard or the conversation is not scored yet."""

    def __init__(self, db: Database, version: str | None) -> None:
        self.store = QAStore(db)
        self.version = version
        self._ready = False

    async def __call__(self, conversation_id: str) -> list[str]:
        if self.version is None:
            return []
        if not self._ready:
            await self.store.setup()
            self._ready = True
        scored = await self.store.load(conversation_id, self.version)
        return [] if scored is None else [c.criterion for c in scored.criteria if c.passed is False]
