"""Metrics over a run's case results.

Each metric is a share in 0..1 (or milliseconds / turns) with the number of observations behind it;
a metric with nothing to measure is ``None`` rather than a flattering 1.0.

- ``pass_rate``: cases whose every assertion held.
- ``containment``: conversations the bot finished without handing off.
- ``escalation_precision`` / ``escalation_recall``: handoffs against the cases' expectations (a case expects
  one when it asserts ``escalated``, expects none when it asserts ``not_escalated``).
- ``intent_accuracy``: ``intent_is`` assertions that held.
- ``slot_accuracy``: slots asserted with a value by ``slot_was_set`` that were filled with that value.
- ``knowledge_answer_rate``: knowledge consultations that gave an answer rather than "I don't know".
- ``groundedness``: knowledge answers that cite documents which support them (see :func:`~evals.assertions.grounded`).
- ``turns_per_resolved``: customer turns per passed conversation that stayed with the bot.
- ``latency_p50_ms`` / ``latency_p95_ms``: time per turn, as the runner saw it.
- ``word_error_rate``: on voice turns, what the speech recognizer heard against what the case said
  (0 in-process, where nothing is recognized; meaningful with ``--voice``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evals.assertions import CheckContext, IntentIs, SlotWasSet, grounded
from evals.results import CaseResult, Status
from evals.voice import word_error_rate

#: Metrics where a higher value is better (the rest: lower is better), for comparisons.
HIGHER_IS_BETTER = frozenset({"pass_rate", "containment", "escalation_precision", "escalation_recall",
                              "intent_accuracy", "slot_accuracy", "knowledge_answer_rate", "groundedness"})
LOWER_IS_BETTER = frozenset({"turns_per_resolved", "latency_p50_ms", "latency_p95_ms", "word_error_rate"})


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) by linear interpolation; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _share(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


def compute_metrics(results: Sequence[CaseResult], context: CheckContext | None = None) -> dict[str, Any]:
    """``{"values": {metric: number | None}, "support": {metric: observations}}``."""
    context = context or CheckContext()
    ran = [r for r in results if r.status is not Status.ERROR]
    values: dict[str, float | None] = {}
    support: dict[str, int] = {}

    def put(name: str, value: float | None, n: int) -> None:
        values[name] = value
        support[name] = n

    put("pass_rate", _share(sum(r.passed for r in results), len(results)), len(results))
    put("containment", _share(sum(not r.escalated for r in ran), len(ran)), len(ran))

    judged = [r for r in ran if r.case.expects_escalation is not None]
    tp = sum(r.escalated and bool(r.case.expects_escalation) for r in judged)
    fp = sum(r.escalated and not r.case.expects_escalation for r in judged)
    fn = sum(not r.escalated and bool(r.case.expects_escalation) for r in judged)
    put("escalation_precision", _share(tp, tp + fp), tp + fp)
    put("escalation_recall", _share(tp, tp + fn), tp + fn)

    intents = [c.outcome.passed for r in ran for c in r.checks if c.outcome.assertion == IntentIs.kind]
    put("intent_accuracy", _share(sum(intents), len(intents)), len(intents))

    slots: list[bool] = []
    for r in ran:
        for index, turn in enumerate(r.turns):
            for assertion in r.case.turns[index].assertions:
                if isinstance(assertion, SlotWasSet):
                    slots.extend(assertion.matches(turn))
    put("slot_accuracy", _share(sum(slots), len(slots)), len(slots))

    consulted = [t for r in ran for t in r.turns if t.knowledge]
    answered = [t for t in consulted if any(k.answered for k in t.knowledge)]
    put("knowledge_answer_rate", _share(len(answered), len(consulted)), len(consulted))
    put("groundedness", _share(sum(grounded(t, context)[0] for t in answered), len(answered)), len(answered))

    resolved = [len(r.turns) for r in ran if r.passed and not r.escalated]
    put("turns_per_resolved", round(sum(resolved) / len(resolved), 2) if resolved else None, len(resolved))

    latencies = [t.latency_ms for r in results for t in r.turns]
    for name, q in (("latency_p50_ms", 0.5), ("latency_p95_ms", 0.95)):
        value = percentile(latencies, q)
        put(name, None if value is None else round(value, 2), len(latencies))

    spoken = [(t.user_text, t.user.text) for r in ran for t in r.turns
              if t.user is not None and t.user.channel == "voice"]
    errors = [word_error_rate(said, heard) for said, heard in spoken]
    put("word_error_rate", round(sum(errors) / len(errors), 4) if errors else None, len(errors))
    return {"values": values, "support": support}
