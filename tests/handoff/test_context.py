"""The context package: complete, valid against its versioned JSON schema, masked per role, summarized."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.app.runtime import Runtime
from bot.handoff.context import SCHEMA_VERSION, context_schema
from bot.handoff.sentiment import score_text, sentiment_trend
from bot.infra.llm import LLMConfig
from bot.kernel.events import BotUttered, GuardrailTriggered, KnowledgeConsulted, UserUttered
from bot.kernel.messages import UserMessage
from bot.testing.server import serve_app

from .conftest import AMY, RuntimeFactory, escalate, validate


def test_sentiment_scores_read_the_customers_mood() -> None:
    """Praise scores positive, anger and shouting negative, negation flips a cue."""
    assert score_text("thanks, that was great") > 0.3
    assert score_text("this is useless and ridiculous!!") < -0.5
    assert score_text("WHERE IS MY ORDER") < 0
    assert score_text("not bad at all") > 0


def test_the_trend_follows_recent_messages_and_guardrail_signals() -> None:
    """Calm then angry is worsening; an emotional guardrail signal drags its message down."""
    calm_then_angry = [UserUttered(text="hi, where is my order?"), UserUttered(text="ok thanks"),
                       UserUttered(text="still nothing, this is ridiculous"),
                       UserUttered(text="useless! I hate this")]
    assert sentiment_trend(calm_then_angry).trend == "worsening"
    flagged = [UserUttered(text="hello"), UserUttered(text="my parcel"),
               GuardrailTriggered(decision="escalate", category="emotional",
                                  signals=({"category": "anger", "score": 0.95},))]
    trend = sentiment_trend(flagged)
    assert trend.latest == pytest.approx(-0.95) and trend.trend == "worsening"


async def test_the_escalation_context_is_complete_and_matches_the_schema(hrt: Runtime) -> None:
    """Documents, attempted answers, sentiment, intents, flows, transcript and summary are all there and valid."""
    await hrt.engine.handle("k1", UserMessage("hello"))
    await hrt.engine.handle("k1", UserMessage("what is your returns policy?"))
    await hrt.engine.handle("k1", UserMessage("blorp zzzt qwv"))
    await escalate(hrt, "k1", ask="this is useless, I want a real person")
    state = await hrt.engine.state("k1")
    assert state.escalation is not None
    context = state.escalation.context
    assert validate(context, context_schema()) == []
    assert context["schema_version"] == SCHEMA_VERSION == 2
    assert context["reason"] == "requested" and context["team"] == "general" and context["priority"] > 0
    consulted = [e for e in state.events if isinstance(e, KnowledgeConsulted)]
    assert consulted and context["documents"], "the returns question consulted the knowledge base"
    assert context["documents"][0]["query"] == "what is your returns policy?"
    answers = context["attempted_answers"]
    assert any(a["response"] == "utter_greet" for a in answers)
    assert not any(a["response"] == "utter_handoff" for a in answers)
    assert context["sentiment"]["latest"] < 0 and len(context["sentiment"]["scores"]) == 4
    assert "greet" in [i["intent"] for i in context["intents"]]
    assert [t["from"] for t in context["transcript"]][:2] == ["customer", "bot"]
    assert context["summary_source"] == "extractive" and "Last messages:" in context["summary"]
    assert len(json.dumps(context)) < 50_000


async def test_sensitive_slots_are_masked_unless_the_role_may_see_them(make_runtime: RuntimeFactory) -> None:
    """A sensitive slot shows as *** to agents, and in clear only to roles listed in reveal_sensitive_to."""
    import dataclasses

    from bot.project.schema import SlotSpec

    from .conftest import with_handoff

    rt: Runtime = await make_runtime()
    slots = {**rt.project.domain.slots, "customer_id": SlotSpec(type="text", sensitive=True)}
    domain = rt.project.domain.model_copy(update={"slots": slots})
    project = dataclasses.replace(with_handoff(rt.project, reveal_sensitive_to=["admin"]), domain=domain)
    rt2: Runtime = await make_runtime(project=project)
    from bot.kernel.events import SlotSet

    await rt2.engine.record("m1", [UserUttered(text="hi"), SlotSet(name="customer_id", value="C-42")])
    await escalate(rt2, "m1")
    assert rt2.handoff is not None
    from bot.infra.settings import Principal

    agent_view = await rt2.handoff.view(AMY, "m1")
    admin_view = await rt2.handoff.view(Principal("admin", "admin", "x"), "m1")
    assert agent_view["context"]["slots"]["customer_id"] == "***"
    assert admin_view["context"]["slots"]["customer_id"] == "C-42"
    stored = (await rt2.engine.state("m1")).escalation
    assert stored is not None and stored.context["slots"]["customer_id"] == "***"


@pytest.fixture
async def fake_llm() -> AsyncIterator[dict[str, Any]]:
    """A local OpenAI-compatible chat endpoint that records requests and answers with a fixed summary."""
    seen: dict[str, Any] = {"requests": [], "fail": False}

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        seen["requests"].append(body)
        if seen["fail"]:
            return web.json_response({"error": {"message": "overloaded"}}, status=503)
        return web.json_response({
            "id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": "Customer wants a person about a late order."}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    async with serve_app(app) as url:
        seen["url"] = url + "/v1"
        yield seen


async def test_an_llm_writes_the_summary_when_configured(make_runtime: RuntimeFactory,
                                                         fake_llm: dict[str, Any]) -> None:
    """With llm: configured the summary comes from the model, which saw the transcript; the customer never sees it."""
    rt: Runtime = await make_runtime(llm=LLMConfig(base_url=fake_llm["url"], model="tiny", timeout=5))
    replies = await escalate(rt, "s1", "my order is late, mail me at ada@example.com")
    escalation = (await rt.engine.state("s1")).escalation
    assert escalation is not None
    context = escalation.context
    assert context["summary"] == "Customer wants a person about a late order."
    assert context["summary_source"] == "llm"
    prompt = fake_llm["requests"][0]["messages"][1]["content"]
    assert "customer: my order is late, mail me at [email]" in prompt
    assert "ada@example.com" not in prompt
    assert all("late order" not in r.text for r in replies)
    bot_texts = [e.text for e in (await rt.engine.state("s1")).events if isinstance(e, BotUttered)]
    assert all("late order" not in t for t in bot_texts)


async def test_a_failing_llm_falls_back_to_the_extractive_summary(make_runtime: RuntimeFactory,
                                                                  fake_llm: dict[str, Any]) -> None:
    """When the model answers 503 the escalation still happens, with the extractive summary."""
    fake_llm["fail"] = True
    rt: Runtime = await make_runtime(llm=LLMConfig(base_url=fake_llm["url"], model="tiny", timeout=5))
    await escalate(rt, "s2", "my order is late")
    escalation = (await rt.engine.state("s2")).escalation
    assert escalation is not None
    context = escalation.context
    assert context["summary_source"] == "extractive" and "my order is late" in context["summary"]
