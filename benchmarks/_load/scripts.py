"""The conversation mix: what simulated customers say, in order, and what a reply must contain to count as
the expected answer (checked loosely: a miss is counted as ``unexpected``, never as an error).

Five kinds, weighted: a greeting then knowledge questions, the authenticated order-status flow (the demo
customer Ada: email, date of birth, order A1001), small talk, clinic questions, and a handoff to a person
(always a conversation's last turn: after it the bot stays quiet while the customer waits for an agent).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

KNOWLEDGE_QUESTIONS = (
    "how long do refunds take?",
    "can I return a sofa after 30 days?",
    "do you offer white glove delivery?",
    "how much is shipping to my house?",
    "what does the protection plan cover?",
    "how long is the mattress trial?",
    "can I pay with a gift card online?",
    "do you price match if something gets cheaper?",
    "what should I do if my table arrived damaged?",
    "how do I clean a velvet sofa?",
    "is assembly included with delivery?",
    "what are the clinic opening hours?",
    "do you accept my health insurance at the clinic?",
    "what should I bring to my first appointment?",
    "can I book a telehealth visit?",
    "how do I log into the patient portal?",
    "which vaccinations do you offer?",
    "what is your cancellation fee for appointments?",
    "how do rewards points work?",
    "can I change my order after placing it?",
)
"""Questions the demo documents answer (phrased for this benchmark, not copied from the project's examples)."""

SMALL_TALK = ("are you a bot?", "what can you help me with?", "thanks a lot", "that's helpful, thank you",
              "good morning", "who am I talking to?")
GREETINGS = ("hi", "hello there", "hey", "good afternoon")


@dataclass(frozen=True, slots=True)
class Say:
    """One customer message and a piece of text the bot's reply should contain (lower case; ``""``: any)."""

    text: str
    expect: str = ""


@dataclass(frozen=True, slots=True)
class Script:
    """One conversation: its kind and messages."""

    kind: str
    turns: tuple[Say, ...]


def _knowledge(rng: random.Random, n: int) -> list[Say]:
    return [Say(q) for q in rng.sample(KNOWLEDGE_QUESTIONS, n)]


def make_script(rng: random.Random) -> Script:
    """A conversation drawn from the mix (weights: knowledge 30 %, orders 25 %, small talk 20 %, clinic 15 %,
    handoff 10 %)."""
    kind = rng.choices(("knowledge", "order_status", "small_talk", "clinic", "handoff"), (30, 25, 20, 15, 10))[0]
    greet = Say(rng.choice(GREETINGS), "northwind")
    if kind == "knowledge":
        turns = [greet, *_knowledge(rng, 3), Say("thanks, bye")]
    elif kind == "order_status":
        turns = [Say(rng.choice(("where is my order?", "can you check my order status", "track my order"))),
                 Say("ada@example.com", "date of birth"), Say("10 December 1985", "verified"),
                 Say("A1001", "a1001"), Say(rng.choice(SMALL_TALK[2:4]))]
    elif kind == "small_talk":
        turns = [greet, *(Say(t) for t in rng.sample(SMALL_TALK, 3))]
    elif kind == "clinic":
        clinic = [q for q in KNOWLEDGE_QUESTIONS if any(w in q for w in ("clinic", "appointment", "portal",
                                                                          "telehealth", "vaccination"))]
        turns = [greet, *(Say(q) for q in rng.sample(clinic, 2))]
    else:
        turns = [greet, Say(rng.choice(KNOWLEDGE_QUESTIONS)),
                 Say(rng.choice(("I want to talk to a human", "can I speak to a real person please",
                                 "get me an agent")), "connecting you")]
    return Script(kind, tuple(turns))


def long_conversation(turns: int) -> list[Say]:
    """``turns`` messages of one conversation that never hands off: knowledge questions and small talk in
    rotation (no flow left open, no request for a person)."""
    cycle = [*KNOWLEDGE_QUESTIONS, *SMALL_TALK[:2], *SMALL_TALK[4:]]
    return [Say(cycle[i % len(cycle)]) for i in range(turns)]
