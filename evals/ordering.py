"""Rasa's ``assertion_order_enabled``: a step's assertions hold one after another, in the order written.

Each assertion is checked on the turn's events after the event the assertion before it matched (the shortest
run of events on which it holds ends at that event). A negative assertion (``bot_did_not_utter``,
``slot_was_not_set``) is checked on everything after the previous match and does not move the position. The
customer's own event stays visible to every assertion (``intent_is``).
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.kernel.events import Event, UserUttered
from evals.assertions import Assertion, CheckContext, Outcome
from evals.observation import TurnObservation


def _view(turn: TurnObservation, events: Sequence[Event]) -> TurnObservation:
    own = [e for e in turn.events if isinstance(e, UserUttered)]
    return TurnObservation(turn.index, turn.user_text, turn.channel, [*own, *events], turn.history,
                           turn.latency_ms)


def check_in_order(assertions: Sequence[Assertion], turn: TurnObservation, context: CheckContext) -> list[Outcome]:
    """The outcome of each assertion, in order (a failed one names the position it was looked for from)."""
    rest = [e for e in turn.events if not isinstance(e, UserUttered)]
    start = 0
    outcomes: list[Outcome] = []
    for assertion in assertions:
        tail = rest[start:]
        outcome = assertion.check(_view(turn, tail), context)
        if not outcome.passed:
            if start:
                outcome = Outcome(outcome.assertion, False, outcome.expected + " (after the assertion before it)",
                                  outcome.actual + f" (looked at the turn's events after the {start}th)",
                                  outcome.diff)
            outcomes.append(outcome)
            continue
        outcomes.append(outcome)
        if assertion.negative:
            continue
        for end in range(1, len(tail) + 1):
            if assertion.check(_view(turn, tail[:end]), context).passed:
                start += end
                break
    return outcomes
