"""The scorecard file, the checks on hand-written events, and scoring from two workers at once (SQLite and
PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.kernel.errors import ConfigError
from bot.kernel.events import (
    AgentJoined,
    AgentMessage,
    BotUttered,
    ConversationEnded,
    Escalated,
    Event,
    SlotSet,
    UserUttered,
)
from bot.qa import CheckContext, Conversation, Scorer, parse_scorecard
from bot.qa.checks import CHECKS
from bot.storage import ConversationStore, open_database

T = 1_800_000_000.0


def run(check: str, events: list[Event], **params: object) -> tuple[bool | None, tuple[int, ...]]:
    verdict = CHECKS[check].run(Conversation("c", tuple(events)), params, CheckContext())
    return verdict.passed, verdict.evidence


def test_the_version_follows_the_content_not_the_formatting(tmp_path: Path) -> None:
    """Two spellings of the same criteria share a version; changing a weight makes a new one."""
    one = parse_scorecard({"criteria": [{"id": "a", "check": "max_fallbacks", "params": {"max": 1}}]}, tmp_path)
    two = parse_scorecard({"criteria": [{"check": "max_fallbacks", "id": "a", "params": {"max": 1}, "weight": 1}]},
                          tmp_path)
    three = parse_scorecard({"criteria": [{"id": "a", "check": "max_fallbacks", "weight": 2}]}, tmp_path)
    assert one.version == two.version != three.version


def test_a_bad_scorecard_names_the_file_and_key(tmp_path: Path) -> None:
    """An unknown check, an unknown parameter and a duplicate id are each reported with their key."""
    with pytest.raises(ConfigError) as caught:
        parse_scorecard({"criteria": [{"id": "a", "check": "nope"},
                                      {"id": "a", "check": "max_fallbacks", "params": {"most": 2}}]},
                        tmp_path / "qa.yml")
    text = str(caught.value)
    assert "criteria.0.check" in text and "unknown check 'nope'" in text
    assert "criteria.1.id" in text and "criteria.1.params" in text and "most" in text


def test_account_data_before_verification_fails_on_that_message() -> None:
    """A bot message marked as account data before ``authenticated`` fails, naming that message."""
    events: list[Event] = [UserUttered(text="my orders"), BotUttered(text="ORD-1", custom={"account_data": True}),
                           SlotSet(name="authenticated", value=True),
                           BotUttered(text="ORD-2", custom={"account_data": True})]
    assert run("verified_before_account_data", events) == (False, (2,))
    assert run("verified_before_account_data", events[2:])[0] is True


def test_fallbacks_beyond_the_allowance_are_the_evidence() -> None:
    """Three fallbacks with ``max: 1`` fail on the second and third."""
    events: list[Event] = []
    for text in ("a", "b", "c"):
        events += [UserUttered(text=text), BotUttered(text="sorry?", response="utter_default")]
    assert run("max_fallbacks", events, max=1) == (False, (4, 6))
    assert run("max_fallbacks", events, max=3)[0] is True


def test_a_request_for_a_person_without_an_offer_fails() -> None:
    """"Agent please" answered by anything but a handoff or an offer fails on the request."""
    asked = UserUttered(text="agent please", intent="human")
    assert run("offered_person_when_asked", [asked, BotUttered(text="Sure, what is your order number?")]) \
        == (False, (1,))
    assert run("offered_person_when_asked", [asked, Escalated(reason="requested")])[0] is True


def test_an_angry_customer_left_with_the_bot_fails() -> None:
    """A furious message that never reaches a person fails the sensitive-case criterion."""
    angry = UserUttered(text="this is absolutely useless, I am furious!!")
    assert run("escalated_sensitive", [angry, BotUttered(text="Sorry about that.")]) == (False, (1,))
    assert run("escalated_sensitive", [angry, Escalated(reason="emotional")])[0] is True


def test_agent_facts_and_the_first_response_sla() -> None:
    """An agent who first writes 300 s after joining misses a 120 s SLA (evidence: that message)."""
    events: list[Event] = [UserUttered(text="help", timestamp=T), Escalated(reason="requested", timestamp=T + 1),
                           AgentJoined(agent="amy", timestamp=T + 10),
                           AgentMessage(agent="amy", text="Hi, I'm Amy", timestamp=T + 310),
                           ConversationEnded(by="amy", timestamp=T + 400)]
    assert run("agent_first_response", events, seconds=120) == (False, (4,))
    assert run("agent_first_response", events, seconds=600)[0] is True


def test_agent_changes_need_verification_and_no_pasted_card() -> None:
    """"I've cancelled it" before any identity question fails; a card number in a message fails."""
    base: list[Event] = [Escalated(reason="requested"), AgentJoined(agent="amy")]
    rushed = [*base, AgentMessage(agent="amy", text="Hi, I'm Amy. I've cancelled your order.")]
    assert run("agent_verified_before_changes", rushed) == (False, (3,))
    careful = [*base, AgentMessage(agent="amy", text="Hi, I'm Amy. Can you confirm your postcode?"),
               UserUttered(text="AB1 2CD", for_agent=True),
               AgentMessage(agent="amy", text="Thanks. I've cancelled your order.")]
    assert run("agent_verified_before_changes", careful)[0] is True
    pasted = [*base, AgentMessage(agent="amy", text="Your card 4111 1111 1111 1111 was charged")]
    assert run("agent_no_sensitive_data", pasted) == (False, (3,))


def test_a_reopen_within_a_day_is_a_repeat_contact() -> None:
    """The customer writing again two hours after the close fails ``no_repeat_contact`` on that message."""
    events: list[Event] = [UserUttered(text="hi", timestamp=T), ConversationEnded(timestamp=T + 60),
                           UserUttered(text="it happened again", timestamp=T + 7200)]
    assert run("no_repeat_contact", events) == (False, (3,))


CARD = {"criteria": [{"id": "fallbacks", "check": "max_fallbacks", "params": {"max": 0}},
                     {"id": "cited", "check": "answers_cited"}]}


async def test_two_workers_score_each_conversation_once(database_url: str, tmp_path: Path) -> None:
    """Two scorers on two connections racing over 300 finished conversations store each exactly once."""
    first, second = await open_database(database_url), await open_database(database_url)
    try:
        store = ConversationStore(first)
        await store.setup()
        for n in range(300):
            await store.append(f"c{n}", [UserUttered(text="x", timestamp=T), BotUttered(
                text="sorry?", response="utter_default", timestamp=T + 1), ConversationEnded(timestamp=T + 2)],
                expected_seq=0)
        card = parse_scorecard(CARD, tmp_path)
        scorers = [Scorer(db, card) for db in (first, second)]
        await scorers[0].setup()
        await scorers[1].setup()
        runs = await asyncio.gather(*(s.score_pending(now=T + 10) for s in scorers))
        assert sum(r.scored for r in runs) == 300
        assert set(runs[0].ids).isdisjoint(runs[1].ids)
        rows = await first.fetchval("SELECT COUNT(*) AS n FROM qa_scores")
        assert int(rows) == 600
        again = await scorers[1].score_pending(now=T + 10)
        assert again.scored == 0
    finally:
        await first.close()
        await second.close()


async def test_a_new_scorecard_version_scores_everything_again(tmp_path: Path) -> None:
    """Changing a parameter makes a new version; every finished conversation is scored again under it, and
    the old version's rows stay."""
    db = await open_database(f"sqlite:///{tmp_path / 'v.db'}")
    try:
        store = ConversationStore(db)
        await store.setup()
        for n in range(3):
            await store.append(f"c{n}", [UserUttered(text="x", timestamp=T), BotUttered(
                text="sorry?", response="utter_default", timestamp=T + 1), ConversationEnded(timestamp=T + 2)],
                expected_seq=0)
        strict = parse_scorecard(CARD, tmp_path)
        lenient = parse_scorecard({"criteria": [{"id": "fallbacks", "check": "max_fallbacks",
                                                 "params": {"max": 1}}]}, tmp_path)
        first, second = Scorer(db, strict), Scorer(db, lenient)
        await first.setup()
        assert (await first.score_pending(now=T + 10)).failures == 3
        run = await second.score_pending(now=T + 10)
        assert run.scored == 3 and run.failures == 0
        assert len(await first.store.runs(strict.version)) == 3
    finally:
        await db.close()


async def test_the_llm_judge_applies_a_rubric_only_when_a_model_is_configured(tmp_path: Path) -> None:
    """With a scripted model the judge's FAIL and turn number become the verdict, the transcript it sees is
    masked; without a model the criterion does not apply and the rest is scored."""
    from bot.infra.llm import LLMConfig
    from bot.qa.judge import LLMJudge
    from bot.testing.llm_server import ScriptedLLM

    events: tuple[Event, ...] = (UserUttered(text="my email is jo@example.com, where is my parcel?", timestamp=T),
                                 BotUttered(text="Our stores open at 9.", response="utter_answer", timestamp=T + 1))
    card = parse_scorecard({"criteria": [{"id": "judge", "check": "llm_judge",
                                          "params": {"rubric": "The bot answered the question asked."}},
                                         {"id": "fallbacks", "check": "max_fallbacks"}]}, tmp_path)
    from bot.qa import score_conversation

    without = score_conversation(card, Conversation("c", events), CheckContext(), last_seq=2, created_at=T)
    assert [c.passed for c in without.criteria] == [None, True]
    async with ScriptedLLM(replies=["FAIL\nturn 2"]) as llm:
        judge = LLMJudge(LLMConfig(base_url=llm.base_url, model="test"))
        verdict = await judge.judge(Conversation("c", events), card.criteria[0].params)
        again = await judge.judge(Conversation("c", events), card.criteria[0].params)
        await judge.close()
        assert (verdict.passed, verdict.evidence) == (False, (2,)) and again == verdict
        assert len(llm.requests) == 1, "the second verdict comes from the cache"
        prompt = llm.requests[0]["messages"][-1]["content"]
        assert "jo@example.com" not in prompt and "[email]" in prompt


async def test_report_and_reviews_on_both_stores(database_url: str, tmp_path: Path) -> None:
    """The report, a conversation's transcript and a review read back the same on SQLite and PostgreSQL."""
    import time

    from bot.infra.settings import DEMO_PROJECT
    from bot.qa import load_scorecard
    from bot.qa.service import QAService

    from .conftest import examples

    db = await open_database(database_url)
    try:
        store = ConversationStore(db)
        await store.setup()
        now = time.time()
        for cid, events in examples(now).items():
            await store.append(cid, events, expected_seq=0)
        scorecard = load_scorecard(DEMO_PROJECT)
        assert scorecard is not None
        service = QAService(db, scorecard.model_copy(update={"similarity": "lexical"}))
        await service.setup()
        assert (await service.score()).scored == 3
        await service.mark("qa-bad", "no_rephrase", reviewer="olga", wrong=False, comment="right")
        report = await service.report(since=now - 86400, until=now + 1, window="day")
        failed = {c["criterion"]: c["failures"][0]["evidence"] for c in report["criteria"] if c["failed"]}
        assert failed == {"no_rephrase": [3, 4], "agent_greeted": [6]}
        assert report["calibration"]["criteria"]["no_rephrase"]["agreement"] == 1.0
        detail = await service.conversation("qa-agent")
        assert detail["score"]["kind"] == "agent" and detail["transcript"][-1]["seq"] == 9
    finally:
        await db.close()
