"""The labelled QA set: its shape, and the demo scorecard's precision and recall on it (floors well under the
measured values, so a regression in a check shows; the numbers themselves are in docs/qa.md)."""

from __future__ import annotations

from bot.infra.settings import DEMO_PROJECT
from bot.qa import load_scorecard

from .labelled import load, measure


def test_the_set_is_large_mixed_and_labelled_with_real_criteria() -> None:
    """At least 100 conversations, about 30 % held aside, bot-only, handed-off and agent ones, good and bad;
    every label names a criterion of the demo scorecard."""
    items = load()
    scorecard = load_scorecard(DEMO_PROJECT)
    assert scorecard is not None
    assert len(items) >= 100
    assert 0.25 <= sum(i.split == "held" for i in items) / len(items) <= 0.35
    ids = {c.id for c in scorecard.criteria}
    assert all(i.fails <= ids for i in items), [i.conversation_id for i in items if not i.fails <= ids]
    kinds = {i.conversation_id[0] for i in items}
    assert kinds == {"b", "h", "a"}
    assert sum(not i.fails for i in items) >= 30 and sum(bool(i.fails) for i in items) >= 30


def test_precision_and_recall_stay_above_their_floors() -> None:
    """Micro precision and recall of failures are at least 0.75 on the dev split and 0.7 on the held-aside one."""
    scorecard = load_scorecard(DEMO_PROJECT)
    assert scorecard is not None
    result = measure(load(), scorecard)
    assert result["dev"]["micro_precision"] >= 0.75 and result["dev"]["micro_recall"] >= 0.75
    assert result["held"]["micro_precision"] >= 0.7 and result["held"]["micro_recall"] >= 0.7
