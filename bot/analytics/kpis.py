"""KPIs over 100 % of conversations, overall and per channel and per flow.

Definitions (a conversation belongs to a window when it was *created* in it):

- **conversations**: how many were created in the window.
- **containment rate**: share with no ``escalated`` event and no repeat contact within 24 h of their end
  (another conversation of the same customer created after this one and at most 24 h after it ended, or this
  conversation reopened — the customer wrote again after a ``closed`` event — within 24 h of closing).
- **escalation rate**: share with at least one ``escalated`` event; **by reason**: share with at least one
  escalation for that reason (a conversation escalated twice for different reasons counts under both).
- **knowledge answer / don't-know rate**: over ``knowledge`` events, the share with ``answered`` true / false.
- **authentication success / lockout rate**: over conversations that tried to authenticate (started the
  authentication flow, set the ``authenticated`` slot true, or escalated with reason ``auth_failed``), the share
  that set ``authenticated`` true / that escalated with reason ``auth_failed``.
- **CSAT**: ``csat`` events: responses, mean score (1-5) and the share of 4s and 5s.
- **handling time**: bot time runs from the start (or a return to the bot, or a reopen) to the handoff, the close
  or the customer's last message; agent time from ``agent_joined`` to ``returned_to_bot``, ``closed``, a transfer
  (a new ``escalated``) or the conversation's last event. Averages are per conversation: bot time over all of
  them, agent time over those an agent joined.
- **time to agent pickup**: from each ``escalated`` to the next ``agent_joined``; mean and 90th percentile.
- **queue length now**: conversations whose status is ``handoff`` (not windowed).
- **FCR proxy**: over conversations with a topic (first non-small-talk intent), the share with no repeat contact
  on the same topic within 7 days: no later conversation of the same customer with that topic created at most 7
  days after this one ended, and no reopen within 7 days.

- **outbound**: campaign attempts started in the window by outcome (reached, voicemail, confirmed, rescheduled,
  cancelled, opted out, transferred, sent, no answer, failed), the share that reached a person and the share
  confirmed (see :mod:`bot.outbound`).

A customer is the ``customer_id`` slot, else ``metadata.customer_id``/``user_id`` of their messages; without
either, only reopens of the same conversation count as repeats.
"""

from __future__ import annotations

import asyncio
import bisect
import dataclasses
import math
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.analytics.facts import ConversationFacts, fold_all, load_rows, queue_length
from bot.analytics.windows import Window
from bot.infra.logs import get_logger
from bot.storage import Database

log = get_logger(__name__)

DAY = 86400.0


@dataclass(frozen=True, slots=True)
class KpiConfig:
    """What the KPI definitions depend on."""

    auth_flow: str = "authentication"
    """Flow id whose start counts as an authentication attempt."""
    lockout_reason: str = "auth_failed"
    """Escalation reason that means the customer failed to authenticate and was locked out."""
    repeat_contact_seconds: float = DAY
    """A contact this soon after a conversation ended makes it not contained."""
    fcr_seconds: float = 7 * DAY
    """A contact on the same topic this soon after a conversation ended makes it not first-contact-resolved."""
    small_talk: frozenset[str] = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "help",
                                            "human", "nlu_fallback", "out_of_scope"})
    """Intents that are not a topic (ignored when finding a conversation's topic for the FCR proxy)."""


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def _p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], 2)


@dataclass(frozen=True, slots=True)
class KpiSet:
    """Every KPI for one set of conversations (see the module docstring for the definitions)."""

    conversations: int
    contained: int
    containment_rate: float | None
    escalated: int
    escalation_rate: float | None
    escalations_by_reason: dict[str, dict[str, float | int | None]]
    knowledge_consulted: int
    knowledge_answer_rate: float | None
    knowledge_dont_know_rate: float | None
    auth_attempts: int
    auth_success_rate: float | None
    auth_lockout_rate: float | None
    csat_responses: int
    csat_average: float | None
    csat_satisfied_rate: float | None
    csat_distribution: dict[str, int]
    bot_handling_seconds: float | None
    agent_handling_seconds: float | None
    agent_conversations: int
    pickups: int
    pickup_seconds_avg: float | None
    pickup_seconds_p90: float | None
    fcr_eligible: int
    fcr_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class ContactVerdict:
    """Repeat-contact verdicts for one conversation."""

    contained: bool
    fcr: bool | None
    """``None`` when the conversation has no topic."""


def _next_after(groups: dict[Any, list[float]], key: Any, created_at: float) -> float | None:
    """The first creation time in ``groups[key]`` (sorted) strictly after ``created_at``."""
    times = groups.get(key)
    if not times:
        return None
    index = bisect.bisect_right(times, created_at)
    return times[index] if index < len(times) else None


def outcomes(facts: Sequence[ConversationFacts], config: KpiConfig) -> dict[str, ContactVerdict]:
    """Containment and FCR verdicts, looking for later contacts of the same customer among ``facts``."""
    by_customer: dict[str, list[float]] = defaultdict(list)
    by_topic: dict[tuple[str, str], list[float]] = defaultdict(list)
    for f in facts:
        if f.customer:
            by_customer[f.customer].append(f.created_at)
            if f.topic:
                by_topic[(f.customer, f.topic)].append(f.created_at)
    for times in (*by_customer.values(), *by_topic.values()):
        times.sort()
    out = {}
    for f in facts:
        reopen = f.reopened_at - f.ended_at if f.reopened_at is not None else None
        later = _next_after(by_customer, f.customer, f.created_at) if f.customer else None
        repeat = (later is not None and later <= f.ended_at + config.repeat_contact_seconds) or (
            reopen is not None and reopen <= config.repeat_contact_seconds)
        fcr = None
        if f.topic is not None:
            same = _next_after(by_topic, (f.customer, f.topic), f.created_at) if f.customer else None
            fcr = not ((same is not None and same <= f.ended_at + config.fcr_seconds)
                       or (reopen is not None and reopen <= config.fcr_seconds))
        out[f.conversation_id] = ContactVerdict(contained=not f.escalated and not repeat, fcr=fcr)
    return out


def summarize(facts: Sequence[ConversationFacts], verdicts: dict[str, ContactVerdict], config: KpiConfig) -> KpiSet:
    """The :class:`KpiSet` of ``facts`` (verdicts from :func:`outcomes` over a superset)."""
    n = len(facts)
    contained = sum(verdicts[f.conversation_id].contained for f in facts)
    escalated = sum(f.escalated for f in facts)
    reasons: dict[str, int] = defaultdict(int)
    for f in facts:
        for reason in set(f.escalation_reasons):
            reasons[reason] += 1
    answered = sum(f.knowledge_answered for f in facts)
    dont_know = sum(f.knowledge_dont_know for f in facts)
    attempts = [f for f in facts if config.auth_flow in f.flows or f.authenticated
                or config.lockout_reason in f.escalation_reasons]
    scores = [s for f in facts for s in f.csat]
    distribution = {str(k): sum(1 for s in scores if s == k) for k in range(1, 6)}
    with_agent = [f for f in facts if f.agent_sessions]
    pickups = [p for f in facts for p in f.pickup_seconds]
    fcr = [verdicts[f.conversation_id].fcr for f in facts if verdicts[f.conversation_id].fcr is not None]
    return KpiSet(
        conversations=n,
        contained=contained,
        containment_rate=_rate(contained, n),
        escalated=escalated,
        escalation_rate=_rate(escalated, n),
        escalations_by_reason={r: {"count": c, "rate": _rate(c, n)} for r, c in sorted(reasons.items())},
        knowledge_consulted=answered + dont_know,
        knowledge_answer_rate=_rate(answered, answered + dont_know),
        knowledge_dont_know_rate=_rate(dont_know, answered + dont_know),
        auth_attempts=len(attempts),
        auth_success_rate=_rate(sum(f.authenticated for f in attempts), len(attempts)),
        auth_lockout_rate=_rate(sum(config.lockout_reason in f.escalation_reasons for f in attempts), len(attempts)),
        csat_responses=len(scores),
        csat_average=_mean(scores),
        csat_satisfied_rate=_rate(sum(1 for s in scores if s >= 4), len(scores)),
        csat_distribution=distribution,
        bot_handling_seconds=_mean([f.bot_seconds for f in facts]),
        agent_handling_seconds=_mean([f.agent_seconds for f in with_agent]),
        agent_conversations=len(with_agent),
        pickups=len(pickups),
        pickup_seconds_avg=_mean(pickups),
        pickup_seconds_p90=_p90(pickups),
        fcr_eligible=len(fcr),
        fcr_rate=_rate(sum(1 for v in fcr if v), len(fcr)),
    )


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One chart bucket: conversations created in ``[start, start + width)``."""

    start: float
    conversations: int
    escalated: int
    contained: int


#: Outbound outcomes where a person was reached (whatever they decided).
REACHED_OUTCOMES = ("reached", "confirmed", "rescheduled", "cancelled", "opted_out", "transferred")


@dataclass(frozen=True, slots=True)
class OutboundKpis:
    """Outbound attempts by outcome; ``reached_rate`` = a person answered, ``confirmed_rate`` = they confirmed
    (both over attempts that ended, messages awaiting a reply included)."""

    outcomes: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        ended = sum(n for outcome, n in self.outcomes.items() if outcome != "in_progress")
        reached = sum(self.outcomes.get(o, 0) for o in REACHED_OUTCOMES)
        return {"attempts": sum(self.outcomes.values()), "outcomes": dict(sorted(self.outcomes.items())),
                "reached_rate": _rate(reached, ended),
                "confirmed_rate": _rate(self.outcomes.get("confirmed", 0), ended)}


async def outbound_kpis(db: Database, window: Window) -> OutboundKpis:
    """Outbound outcomes of ``window`` (none when no campaign ran: the outbound tables are created if missing)."""
    from bot.outbound.store import OutboundStore

    store = OutboundStore(db)
    await store.setup()
    return OutboundKpis(await store.attempt_outcomes(window.since, window.until))


@dataclass(frozen=True, slots=True)
class KpiReport:
    """KPIs of one window: overall, per channel, per flow, a time series, and the queue now."""

    window: str
    since: float
    until: float
    generated_at: float
    queue_length: int
    overall: KpiSet
    by_channel: dict[str, KpiSet] = field(default_factory=dict)
    by_flow: dict[str, KpiSet] = field(default_factory=dict)
    series: list[SeriesPoint] = field(default_factory=list)
    bucket_seconds: float = 3600.0
    outbound: OutboundKpis | None = None
    """Outbound campaign attempts started in the window, by outcome."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "window": self.window, "since": self.since, "until": self.until, "generated_at": self.generated_at,
            "queue_length": self.queue_length, "bucket_seconds": self.bucket_seconds,
            "overall": self.overall.to_dict(),
            "by_channel": {k: v.to_dict() for k, v in self.by_channel.items()},
            "by_flow": {k: v.to_dict() for k, v in self.by_flow.items()},
            "series": [asdict(p) for p in self.series],
            "outbound": (self.outbound or OutboundKpis({})).to_dict(),
        }


def build_report(facts: Sequence[ConversationFacts], window: Window, *, queue: int,
                 config: KpiConfig = KpiConfig()) -> KpiReport:
    """The report for ``window`` from ``facts`` (which may include later conversations, for repeats)."""
    verdicts = outcomes(facts, config)
    inside = [f for f in facts if window.since <= f.created_at < window.until]
    channels: dict[str, list[ConversationFacts]] = defaultdict(list)
    flows: dict[str, list[ConversationFacts]] = defaultdict(list)
    for f in inside:
        channels[f.channel].append(f)
        for flow in f.flows:
            flows[flow].append(f)
    width = window.bucket_seconds
    count = max(1, math.ceil(window.seconds / width))
    buckets = [[0, 0, 0] for _ in range(count)]
    for f in inside:
        index = min(count - 1, int((f.created_at - window.since) // width))
        buckets[index][0] += 1
        buckets[index][1] += f.escalated
        buckets[index][2] += verdicts[f.conversation_id].contained
    return KpiReport(
        window=window.label, since=window.since, until=window.until, generated_at=time.time(), queue_length=queue,
        overall=summarize(inside, verdicts, config),
        by_channel={k: summarize(v, verdicts, config) for k, v in sorted(channels.items())},
        by_flow={k: summarize(v, verdicts, config) for k, v in sorted(flows.items())},
        series=[SeriesPoint(window.since + i * width, *b) for i, b in enumerate(buckets)],
        bucket_seconds=width,
    )


def _report_from_rows(rows: list[dict[str, Any]], window: Window, queue: int, config: KpiConfig,
                      stop: threading.Event | None = None) -> KpiReport:
    facts = fold_all(rows, small_talk=config.small_talk, stop=stop)
    return build_report(facts, window, queue=queue, config=config)


async def compute_kpis(db: Database, window: Window, *, config: KpiConfig = KpiConfig()) -> KpiReport:
    """KPIs for ``window`` from the conversation store in ``db`` (the folding runs in a worker thread).

    Cancelling the call stops the folding too (the thread checks between conversations)."""
    lookahead = max(config.repeat_contact_seconds, config.fcr_seconds)
    rows = await load_rows(db, window.since, window.until + lookahead)
    queue = await queue_length(db)
    outbound = await outbound_kpis(db, window)
    stop = threading.Event()
    try:
        report = await asyncio.to_thread(_report_from_rows, rows, window, queue, config, stop)
    except asyncio.CancelledError:
        stop.set()
        raise
    return dataclasses.replace(report, outbound=outbound)
