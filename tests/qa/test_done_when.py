"""Done-when of issue 21: conversations played through the real engine and the real agent API — a good bot
answer, a bad one the customer has to ask again, an agent who greets and one who never does — are scored by
the demo scorecard, which finds exactly the two failures, each with the turns that show it."""

from __future__ import annotations

import time

import aiohttp

from bot.app.runtime import Runtime
from bot.kernel.events import AgentMessage, BotUttered, UserUttered
from bot.qa import Scorer, load_scorecard

from .conftest import Driver

QUESTION = "what is your return policy?"


async def play(driver: Driver) -> None:
    """The four conversations."""
    await driver.say("good-kb", QUESTION)
    await driver.say("good-kb", "great, thank you")
    await driver.say("bad-answer", QUESTION)
    await driver.say("bad-answer", "that's not what I asked. What is the return policy for sofas?")
    for cid, agent, first in (("good-agent", "amy", "Hi, I'm Amy. Happy to help with your order."),
                              ("no-greet", "bob", "Let me look into that order.")):
        await driver.say(cid, "where is my order?")
        replies = await driver.say(cid, "agent please")
        assert "member of our team" in replies[0]["text"]
        await driver.agent(agent, cid, "claim")
        await driver.agent(agent, cid, "messages", {"text": first})
        assert await driver.say(cid, "ok, thanks") == []
        await driver.agent(agent, cid, "messages", {"text": "It is on its way and arrives tomorrow."})
        await driver.agent(agent, cid, "close", {"csat": True})
        await driver.say(cid, "5")


async def test_qa_finds_the_bad_answer_and_the_agent_who_never_greets(qrt: Runtime, qserver: str) -> None:
    """Scoring finds exactly two failures: no_rephrase on the bad answer (evidence: the answer and the customer's
    rephrase) and agent_greeted for bob (evidence: his first message); the other conversations pass."""
    async with aiohttp.ClientSession() as http:
        await play(Driver(http, qserver))
    scorecard = load_scorecard(qrt.project.path)
    assert scorecard is not None
    scorer = Scorer(qrt.database, scorecard, encoder=qrt.encoder)
    await scorer.setup()
    run = await scorer.score_pending(now=time.time() + 3600)  # the bot-only ones are idle by then
    assert run.scored == 4

    bad = (await qrt.engine.state("bad-answer")).events
    answer = next(i for i, e in enumerate(bad, 1) if isinstance(e, BotUttered) and e.response == "knowledge_answer")
    rephrase = [i for i, e in enumerate(bad, 1) if isinstance(e, UserUttered)][1]
    bob = (await qrt.engine.state("no-greet")).events
    first_bob = next(i for i, e in enumerate(bob, 1) if isinstance(e, AgentMessage))

    failures = set()
    for score in await scorer.store.runs(scorecard.version):
        failures |= {(score.conversation_id, c.criterion, c.evidence) for c in score.failed}
    assert failures == {("bad-answer", "no_rephrase", (answer, rephrase)),
                        ("no-greet", "agent_greeted", (first_bob,))}

    good = await scorer.store.load("good-agent", scorecard.version)
    assert good is not None and good.kind == "agent" and good.score == 1.0
    applied = {c.criterion for c in good.criteria if c.passed is not None}
    assert {"agent_greeted", "agent_first_response", "agent_wrapped_up", "handoff_context",
            "offered_person"} <= applied
    assert good.facts["sessions"][0]["agent"] == "amy"
    assert good.facts["sessions"][0]["first_response_seconds"] is not None


async def test_scoring_again_stores_nothing_new(qrt: Runtime, qserver: str) -> None:
    """A second run under the same scorecard version scores nothing; a new message re-scores that one only."""
    async with aiohttp.ClientSession() as http:
        driver = Driver(http, qserver)
        await driver.say("again", QUESTION)
        scorecard = load_scorecard(qrt.project.path)
        assert scorecard is not None
        scorer = Scorer(qrt.database, scorecard)
        await scorer.setup()
        later = time.time() + 3600
        assert (await scorer.score_pending(now=later)).scored == 1
        assert (await scorer.score_pending(now=later)).scored == 0
        await driver.say("again", "that's not what I asked: what is the return policy for sofas?")
    rescored = await scorer.score_pending(now=later + 3600)
    assert rescored.scored == 1 and rescored.ids == ["again"]
    score = await scorer.store.load("again", scorecard.version)
    assert score is not None and [c.criterion for c in score.failed] == ["no_rephrase"]
