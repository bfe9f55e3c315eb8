"""QA API for the ops console (bearer token with the ``ops`` role), and the scoring timer of each worker.

Routes:
    GET  /api/ops/qa?window=7d[&topics=1]        the QA report (see :mod:`bot.qa.report`); ``topics=1`` adds
                                                 "what to automate next" (:mod:`bot.qa.topics`)
    GET  /api/ops/qa/conversations/{id}          a conversation's score, reviews and masked transcript (lines
                                                 carry ``seq``: the numbers failures give as evidence)
    POST /api/ops/qa/reviews                     ``{"conversation_id", "criterion", "wrong": bool, "comment"?}``:
                                                 mark an automatic score as wrong (or confirm it)
    POST /api/ops/qa/score                       score what finished now (the timer does it every
                                                 ``schedule_seconds``)

Without a ``qa.yml`` in the project the routes answer 404 saying so. Every worker runs the timer; scoring is
idempotent across workers (:mod:`bot.qa.store`). Only this module translates; the rules live in
:class:`bot.qa.service.QAService`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from aiohttp import web

from bot.analytics import window
from bot.infra.logs import get_logger
from bot.kernel.errors import CarelineError, RequestError
from bot.qa.scorecard import load_scorecard
from bot.qa.service import QAService
from connectors.web.app import RUNTIME, read_json
from connectors.web.auth import require_role

log = get_logger(__name__)

QA: web.AppKey[QAService | None] = web.AppKey("qa_service", QAService)  # type: ignore[arg-type]
TIMER: web.AppKey[asyncio.Task[None]] = web.AppKey("qa_timer", asyncio.Task)


def _service(request: web.Request) -> tuple[QAService, str]:
    runtime = request.app[RUNTIME]
    principal = require_role(request, runtime.settings, "ops")
    service = request.app.get(QA)
    if service is None:
        raise web.HTTPNotFound(text='{"error": "this project has no qa.yml scorecard (see docs/qa.md)"}',
                               content_type="application/json")
    return service, principal.name


async def qa_report(request: web.Request) -> web.Response:
    service, _ = _service(request)
    selected = window(request.query.get("window", "7d"), until=time.time())  # BadWindow is a 400
    result = await service.report(since=selected.since, until=selected.until, window=selected.label)
    if request.query.get("topics") in ("1", "true"):
        encoder = request.app[RUNTIME].encoder
        if encoder is not None:
            from bot.qa.topics import automate_next

            found = await automate_next(service.database, encoder, since=selected.since, until=selected.until)
            result["topics"] = found.to_dict()
    return web.json_response(result)


async def qa_conversation(request: web.Request) -> web.Response:
    service, _ = _service(request)
    conversation_id = request.match_info["conversation_id"]
    if not 0 < len(conversation_id) <= 200:
        raise RequestError("the conversation id must be 1 to 200 characters")
    return web.json_response(await service.conversation(conversation_id))


async def qa_review(request: web.Request) -> web.Response:
    service, reviewer = _service(request)
    body = await read_json(request)
    unknown = sorted(set(body) - {"conversation_id", "criterion", "wrong", "comment"})
    if unknown:
        raise RequestError(f"unknown key(s) {', '.join(map(repr, unknown))}; expected 'conversation_id', "
                           "'criterion', 'wrong' and 'comment'")
    cid, criterion, wrong = body.get("conversation_id"), body.get("criterion"), body.get("wrong")
    comment = body.get("comment", "")
    if not isinstance(cid, str) or not cid or not isinstance(criterion, str) or not criterion:
        raise RequestError("'conversation_id' and 'criterion' must be non-empty strings")
    if not isinstance(wrong, bool):
        raise RequestError(f"'wrong' must be true or false, got {wrong!r:.40}")
    if not isinstance(comment, str):
        raise RequestError("'comment' must be a string")
    result = await service.mark(cid, criterion, reviewer=reviewer, wrong=wrong, comment=comment)
    log.info("qa_score_reviewed", conversation_id=cid, criterion=criterion, wrong=wrong, reviewer=reviewer)
    return web.json_response(result)


async def qa_score(request: web.Request) -> web.Response:
    service, _ = _service(request)
    run = await service.score()
    return web.json_response({**run.to_dict(), "scorecard_version": service.scorecard.version})


async def _timer(service: QAService, every: float) -> None:
    """Score what finished, every ``every`` seconds, until cancelled (a failed round is logged and retried)."""
    while True:
        await asyncio.sleep(every)
        try:
            await service.score()
        except CarelineError as exc:
            log.warning("qa_scoring_failed", error=str(exc)[:200])


def setup_routes(app: web.Application) -> None:
    """Mount the QA routes; open the service and start the timer when the project has a scorecard."""
    runtime = app[RUNTIME]
    scorecard = load_scorecard(runtime.project.path)  # a bad qa.yml is a ConfigError at start-up
    app[QA] = None if scorecard is None else QAService(runtime.database, scorecard, encoder=runtime.encoder,
                                                       llm=runtime.project.config.llm)

    async def start(app: web.Application) -> None:
        service = app[QA]
        if service is None:
            return
        await service.setup()
        if service.scorecard.schedule_seconds > 0:
            app[TIMER] = asyncio.create_task(_timer(service, service.scorecard.schedule_seconds), name="qa-timer")

    async def stop(app: web.Application) -> None:
        task = app.get(TIMER)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        service = app[QA]
        if service is not None:
            await service.close()

    app.on_startup.append(start)
    app.on_cleanup.insert(0, stop)
    app.router.add_get("/api/ops/qa", qa_report)
    app.router.add_get("/api/ops/qa/conversations/{conversation_id}", qa_conversation)
    app.router.add_post("/api/ops/qa/reviews", qa_review)
    app.router.add_post("/api/ops/qa/score", qa_score)
