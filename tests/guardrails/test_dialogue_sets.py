"""The emotion detector (message model, plain-word frustration, the trend) on whole conversations.

``data/frustration_dialogues_dev.jsonl`` (36 conversations) and ``frustration_dialogues_heldaside.jsonl`` (24)
were written for #17 apart from the detector's word lists and GoEmotions: label 1 when by the last message the
customer needs a person (frustration building over turns, repeat contact, worry, shouting), 0 for ordinary
conversations, including hard negatives (bare commands, a past annoyance resolved, "sorry for the hassle").
A conversation counts as caught when the policy does more than continue on any of its turns, each turn seeing
the earlier ones as a real turn does. Neither set was tuned on; the floors sit under today's numbers (see
docs/guardrails.md) so a regression fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.guardrails.base import Action, Detector
from bot.guardrails.policy import ConfiguredPolicy
from bot.kernel.conversation import derive
from bot.kernel.events import Event, UserUttered

DATA = Path(__file__).parent / "data"


async def caught(detector: Detector, policy: ConfiguredPolicy, turns: list[str]) -> bool:
    """True when the policy offers a person, escalates or blocks on any turn of the conversation."""
    events: list[Event] = []
    for text in turns:
        events.append(UserUttered(text=text))
        state = derive("c", events)
        if policy.decide(await detector.detect(text, state, "web"), state).action is not Action.CONTINUE:
            return True
    return False


async def scores(detector: Detector, policy: ConfiguredPolicy, name: str) -> tuple[float, float, float]:
    """Precision, recall and F1 of ``detector`` on the conversations of ``name``."""
    rows = [json.loads(line) for line in (DATA / f"{name}.jsonl").read_text().splitlines() if line.strip()]
    pairs = [(await caught(detector, policy, row["turns"]), row["label"] == 1) for row in rows]
    tp = sum(c and y for c, y in pairs)
    fp = sum(c and not y for c, y in pairs)
    fn = sum(y and not c for c, y in pairs)
    precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
    return precision, recall, 2 * tp / max(1, 2 * tp + fp + fn)


@pytest.mark.parametrize(("name", "floor"), [
    ("frustration_dialogues_dev", 0.8),
    ("frustration_dialogues_heldaside", 0.65),
])
async def test_conversations_that_need_a_person_are_offered_one(detectors: dict[str, Detector],
                                                                policy: ConfiguredPolicy, name: str,
                                                                floor: float) -> None:
    """Frustration that builds over a conversation is offered a person; ordinary conversations are not."""
    _, _, f1 = await scores(detectors["emotion"], policy, name)
    assert f1 >= floor
