"""Run cases against a target, a bounded number at a time, and judge every turn.

    suites = load_suites(["evals/suites"])
    result = await run_suites(suites, InProcessTarget(runtime.engine), concurrency=4)
    assert result.passed, [c.case.id for c in result.cases if not c.passed]

Each case gets a fresh conversation; its turns run in order and every assertion of a turn is checked
right after it. A case that cannot run (target down, unsupported fixture) ends as ``error`` and the
others go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import time
import uuid
from collections.abc import Callable, Sequence

from tqdm import tqdm

from bot.infra.logs import get_logger
from bot.kernel.errors import CarelineError
from evals.assertions import CheckContext
from evals.format import Case, Suite
from evals.metrics import compute_metrics
from evals.observation import TurnObservation
from evals.ordering import check_in_order
from evals.results import CaseResult, Checked, RunResult
from evals.targets import Target

log = get_logger(__name__)

DEFAULT_CONCURRENCY = 4

CaseFilter = Callable[[Case], bool]


def select(suites: Sequence[Suite], pattern: str | None = None, tags: Sequence[str] = ()) -> list[Case]:
    """The cases of ``suites`` whose id contains ``pattern`` and that carry every tag in ``tags``."""
    cases = [c for s in suites for c in s.cases]
    if pattern:
        cases = [c for c in cases if pattern.casefold() in c.id.casefold()]
    if tags:
        cases = [c for c in cases if set(tags) <= set(c.tags)]
    return cases


async def run_case(case: Case, target: Target, context: CheckContext, conversation_id: str) -> CaseResult:
    """Run one case's turns in order on a fresh conversation and check each turn's assertions."""
    result = CaseResult(case)
    if case.account_data:
        context = dataclasses.replace(context, account_data=(*context.account_data, *case.account_data))
    started = time.perf_counter()
    try:
        history = await target.start(conversation_id, case)
        for index, spec in enumerate(case.turns):
            metadata = {k: v for k, v in {**case.metadata, **spec.metadata}.items() if k != "scope"}
            events, latency = await target.send(conversation_id, spec.user, metadata)
            turn = TurnObservation(index, spec.user, str(metadata.get("channel", "rest")),
                                   events[len(history):], events, latency)
            history = events
            result.turns.append(turn)
            outcomes = (check_in_order(spec.assertions, turn, context) if spec.ordered
                        else [a.check(turn, context) for a in spec.assertions])
            result.checks.extend(Checked(index, outcome, spec.line) for outcome in outcomes)
    except Exception as exc:  # a broken case is recorded with its error and the run goes on
        result.error = f"{type(exc).__name__}: {exc}"
        log.warning("eval_case_error", case=case.id, error=result.error, exc_info=True)
    finally:
        await target.finish(conversation_id)
    result.duration_ms = (time.perf_counter() - started) * 1000
    return result


async def run_cases(cases: Sequence[Case], target: Target, *, concurrency: int = DEFAULT_CONCURRENCY,
                    progress: bool = False, context: CheckContext | None = None) -> list[CaseResult]:
    """Run ``cases`` with at most ``concurrency`` conversations at a time; results keep the cases' order."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    context = context or target.check_context()
    run_id = uuid.uuid4().hex[:8]
    gate = asyncio.Semaphore(concurrency)
    bar = tqdm(total=len(cases), unit="case", desc="eval", disable=not progress, file=sys.stderr, leave=False)

    def done(result: CaseResult) -> CaseResult:
        bar.update(1)
        if not result.passed:
            bar.set_postfix_str(f"last failure: {result.case.name[:40]}")
        return result

    async def one(index: int, case: Case) -> CaseResult:
        async with gate:
            return done(await run_case(case, target, context, f"eval-{run_id}-{index:04d}"))

    async def alone(index: int, case: Case) -> CaseResult:
        """A case that changes the global automation scope runs with nothing else in flight."""
        try:
            async with target.scoped(case.scope or {}):
                return done(await run_case(case, target, context, f"eval-{run_id}-{index:04d}"))
        except CarelineError as exc:  # the scope could not be changed: this case errors, others go on
            log.warning("eval_scope_change_failed", case=case.id, error=str(exc))
            return done(CaseResult(case, error=f"{type(exc).__name__}: {exc}"))

    results: dict[int, CaseResult] = {}
    try:
        shared = [(i, c) for i, c in enumerate(cases) if c.scope is None]
        for (i, _), result in zip(shared, await asyncio.gather(*(one(i, c) for i, c in shared)), strict=True):
            results[i] = result
        for i, case in enumerate(cases):
            if case.scope is not None:
                results[i] = await alone(i, case)
    finally:
        bar.close()
    return [results[i] for i in range(len(cases))]


async def run_suites(suites: Sequence[Suite], target: Target, *, concurrency: int = DEFAULT_CONCURRENCY,
                     progress: bool = False, pattern: str | None = None,
                     tags: Sequence[str] = ()) -> RunResult:
    """Run the selected cases of ``suites`` on ``target``; returns the judged cases and the metrics."""
    context = target.check_context()
    cases = select(suites, pattern, tags)
    started_at = time.time()
    started = time.perf_counter()
    results = await run_cases(cases, target, concurrency=concurrency, progress=progress, context=context)
    duration = time.perf_counter() - started
    metrics = compute_metrics(results, context)
    log.info("eval_run_finished", cases=len(results), passed=sum(r.passed for r in results),
             seconds=round(duration, 2))
    return RunResult(results, metrics, target.name, started_at, duration)
