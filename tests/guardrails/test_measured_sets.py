"""The human-request, regulated-topic and emotion detectors measured on sets written apart from their word lists.

``tests/guardrails/data/*_dev.csv`` were used while changing the detectors; ``*_heldout.csv`` and
``regulated.csv`` were not looked at while tuning. A message counts as caught when the policy does more than
continue (offers a person, escalates or blocks) on the detector's signals. The floors sit a little under what
the detectors measure today (see the module docstrings) so a regression fails here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.guardrails.base import Action, Detector
from bot.guardrails.policy import ConfiguredPolicy
from bot.kernel.conversation import derive

DATA = Path(__file__).parent / "data"


async def f1(detector: Detector, policy: ConfiguredPolicy, name: str) -> float:
    """F1 of ``detector`` (through ``policy``) on the labelled set ``name``."""
    with (DATA / f"{name}.csv").open(newline="") as rows:
        labelled = [(row["text"], row["label"] == "1") for row in csv.DictReader(rows)]
    caught = []
    for text, _ in labelled:
        state = derive("c", [])
        decision = policy.decide(await detector.detect(text, state, "rest"), state)
        caught.append(decision.action is not Action.CONTINUE)
    tp = sum(c and y for c, (_, y) in zip(caught, labelled, strict=True))
    fp = sum(c and not y for c, (_, y) in zip(caught, labelled, strict=True))
    fn = sum(not c and y for c, (_, y) in zip(caught, labelled, strict=True))
    return 2 * tp / (2 * tp + fp + fn)


@pytest.mark.parametrize(("detector", "name", "floor"), [
    ("human_request", "human_request_dev", 0.95),
    ("human_request", "human_request_heldout", 0.9),
    ("regulated_topic", "regulated_dev", 0.8),
    ("regulated_topic", "regulated", 0.85),
    ("emotion", "frustration_dev", 0.85),
    ("emotion", "frustration_heldout", 0.78),
    ("emotion", "emotion_dev", 0.75),
    ("emotion", "emotion_heldout", 0.75),
])
async def test_detector_reaches_its_floor_on_independent_phrasings(
        detectors: dict[str, Detector], policy: ConfiguredPolicy, detector: str, name: str, floor: float) -> None:
    """Requests for a person and regulated topics said in other words are caught; same words in another sense
    (an estate agent, a fire sale, "I can't recall my order number", a negated request) are not."""
    assert await f1(detectors[detector], policy, name) >= floor


@pytest.mark.parametrize("text", [
    "my estate agent said the sofa would fit",
    "no, I don't need a person, just the tracking link",
    "I spoke to a human yesterday and they said it was sorted",
    "uh agent",
    "i uh agent",
    "not an agent",
    "my agent",
])
async def test_hard_cases_of_asking_for_a_person(detectors: dict[str, Detector], text: str) -> None:
    """The same word in another sense or negated is no request; a spoken filler before "agent" is one."""
    signals = await detectors["human_request"].detect(text, derive("c", []), "voice")
    assert bool(signals) is (text in ("uh agent", "i uh agent"))


@pytest.mark.parametrize("text", ["Stop here", "stop", "cancel that", "no", "No.", "never mind", "forget it",
                                  "no, go back", "wait"])
async def test_commands_to_the_bot_are_not_anger(detectors: dict[str, Detector], policy: ConfiguredPolicy,
                                                 text: str) -> None:
    """GoEmotions reads "Stop." as annoyance; in a support chat a bare command carries no feeling."""
    state = derive("c", [])
    assert policy.decide(await detectors["emotion"].detect(text, state, "rest"), state).action is Action.CONTINUE


@pytest.mark.parametrize("text", ["this is the third time I'm writing about this", "I've had enough",
                                  "this is ridiculous", "I'm exhausted with all this", "Enough is enough"])
async def test_frustration_in_plain_words_offers_a_person(detectors: dict[str, Detector], policy: ConfiguredPolicy,
                                                          text: str) -> None:
    """Repeat contact, exhaustion and plain judgement offer a person (or escalate) on the first message."""
    state = derive("c", [])
    decision = policy.decide(await detectors["emotion"].detect(text, state, "rest"), state)
    assert decision.action in (Action.OFFER_HUMAN, Action.ESCALATE)
