"""One project's QA in one object: the scorecard, its scorer and store, the report, reviews and transcripts.

The web app and the CLI both use :class:`QAService`; nothing here knows about HTTP.
"""

from __future__ import annotations

import time
from typing import Any

from bot.infra.embeddings import ServingEncoder
from bot.infra.llm import LLMConfig
from bot.kernel.errors import RequestError
from bot.qa.judge import LLMJudge
from bot.qa.report import report, transcript_lines
from bot.qa.scorecard import Scorecard
from bot.qa.scorer import Scorer, ScoreRun
from bot.qa.store import QAStore
from bot.qa.transcript import Conversation
from bot.storage import ConversationStore, Database

MAX_COMMENT = 1000


class UnknownScore(RequestError):
    """No score for that conversation and criterion under the current scorecard (HTTP 404)."""

    status = 404


class QAService:
    """Scores, reports and calibration for one scorecard over one database."""

    def __init__(self, database: Database, scorecard: Scorecard, *, encoder: ServingEncoder | None = None,
                 llm: LLMConfig | None = None) -> None:
        self.database = database
        self.scorecard = scorecard
        self.judge = LLMJudge(llm) if llm is not None and any(
            c.check == "llm_judge" for c in scorecard.criteria) else None
        self.scorer = Scorer(database, scorecard, encoder=encoder, judge=self.judge)
        self.store: QAStore = self.scorer.store

    async def setup(self) -> None:
        await self.scorer.setup()

    async def score(self, *, now: float | None = None) -> ScoreRun:
        """Score every finished conversation not scored under the current version."""
        return await self.scorer.score_pending(now=now)

    async def report(self, *, since: float, until: float, window: str) -> dict[str, Any]:
        """The QA report of conversations created in ``[since, until)``."""
        return await report(self.store, self.scorecard, since=since, until=until, window=window)

    async def conversation(self, conversation_id: str) -> dict[str, Any]:
        """A conversation's score and its masked transcript (lines carry the ``seq`` evidence points at)."""
        score = await self.store.load(conversation_id, self.scorecard.version)
        state = await ConversationStore(self.database).load(conversation_id)
        if not state.events:
            raise UnknownScore(f"no conversation {conversation_id!r}")
        reviews = [r for r in await self.store.reviews(self.scorecard.version)
                   if r["conversation_id"] == conversation_id]
        latest = {r["criterion"]: {"human": r["human"], "reviewer": r["reviewer"], "comment": r["comment"],
                                   "at": r["created_at"]} for r in reviews}
        return {"conversation_id": conversation_id, "scorecard_version": self.scorecard.version,
                "score": score.to_dict() if score is not None else None, "reviews": latest,
                "transcript": transcript_lines(Conversation(conversation_id, tuple(state.events)))}

    async def mark(self, conversation_id: str, criterion: str, *, reviewer: str, wrong: bool,
                   comment: str = "") -> dict[str, Any]:
        """Record that the automatic verdict of ``criterion`` on the conversation is wrong (or right)."""
        if len(comment) > MAX_COMMENT:
            raise RequestError(f"'comment' is {len(comment)} characters; the limit is {MAX_COMMENT}")
        score = await self.store.load(conversation_id, self.scorecard.version)
        found = next((c for c in score.criteria if c.criterion == criterion), None) if score else None
        if found is None:
            raise UnknownScore(f"no score of criterion {criterion!r} for conversation {conversation_id!r} under "
                               f"scorecard version {self.scorecard.version}")
        automatic = found.passed
        human = (None if automatic is None else not automatic) if wrong else automatic
        count = await self.store.review(conversation_id, self.scorecard.version, criterion, reviewer=reviewer,
                                        human=human, automatic=automatic, comment=comment, at=time.time())
        return {"conversation_id": conversation_id, "criterion": criterion, "automatic": automatic, "human": human,
                "reviews": count}

    async def close(self) -> None:
        if self.judge is not None:
            await self.judge.close()
