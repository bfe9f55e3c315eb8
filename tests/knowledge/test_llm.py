"""The LLM answer path against a scripted OpenAI-compatible server on a free local port."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.infra.embeddings import Embedder
from bot.infra.llm import LLMConfig
from bot.knowledge import KnowledgeBase, KnowledgeConfig
from bot.testing.llm_server import Fail, ScriptedLLM

DEMO_PROJECT = Path(__file__).resolve().parents[2] / "bot" / "demo" / "project"
QUESTION = "How long do refunds take to arrive?"


@pytest.fixture
async def llm() -> AsyncIterator[ScriptedLLM]:
    """A scripted chat-completions server."""
    async with ScriptedLLM() as server:
        yield server


@pytest.fixture
async def llm_kb(llm: ScriptedLLM, demo_index: Path, embedder: Embedder) -> AsyncIterator[KnowledgeBase]:
    """The demo knowledge base answering through the scripted LLM (0.5 s timeout)."""
    config = LLMConfig(base_url=llm.base_url, model="scripted", timeout=0.5)
    kb = KnowledgeBase.open(DEMO_PROJECT, KnowledgeConfig(), embedder=embedder, llm=config, index_dir=demo_index)
    yield kb
    await kb.close()


def passage_number(request: dict[str, Any], needle: str) -> int:
    """The [n] of the first passage in the prompt containing ``needle``."""
    prompt = request["messages"][-1]["content"]
    for block in prompt.split("\n\n["):
        if needle in block:
            return int(block.lstrip("[").split("]")[0])
    raise AssertionError(f"{needle!r} not in the prompt")


async def test_grounded_llm_answer_is_returned_with_its_citations(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """A paraphrase of the passage citing it is accepted; its [n] maps to the refunds document."""
    def reply(request: dict[str, Any]) -> str:
        n = passage_number(request, "We issue the refund within")
        return (f"We issue your refund within 5 business days of receiving the return [{n}]. "
                f"Your bank may then need another 3–10 business days to show it [{n}].")
    llm.script(reply)
    answer = await llm_kb.answer(QUESTION)
    assert answer.answered and answer.mode == "llm"
    assert answer.text.startswith("We issue your refund within 5 business days")
    assert [c.doc_id for c in answer.citations] == ["living/refunds"]
    prompt = llm.requests[0]["messages"]
    assert prompt[0]["role"] == "system" and "ONLY the numbered passages" in prompt[0]["content"]
    assert prompt[-1]["content"].endswith(f"Question: {QUESTION}")


async def test_invented_number_falls_back_to_extractive(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """An answer stating a number the passages do not contain is replaced by the extractive answer."""
    llm.script(lambda r: f"Refunds are issued within 45 business days [{passage_number(r, 'We issue the refund')}].")
    with capture_logs() as logs:
        answer = await llm_kb.answer(QUESTION)
    assert answer.answered and answer.mode == "extractive"
    assert "45" not in answer.text and "5 business days" in answer.text
    assert any(e["event"] == "knowledge_llm_ungrounded" for e in logs)


async def test_unsupported_sentence_falls_back_to_extractive(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """A sentence unrelated to the cited passage fails the similarity check."""
    llm.script("Our founder started the company in a garage and loves cats [1].")
    answer = await llm_kb.answer(QUESTION)
    assert answer.mode == "extractive"


async def test_answer_without_citations_falls_back_to_extractive(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """An answer that cites nothing is not accepted, even when it is true."""
    llm.script("We issue the refund within 5 business days of receiving your return.")
    answer = await llm_kb.answer(QUESTION)
    assert answer.mode == "extractive"


async def test_server_error_falls_back_to_extractive(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """An HTTP 500 from the provider is logged and the extractive answer is given."""
    llm.script(Fail(500))
    with capture_logs() as logs:
        answer = await llm_kb.answer(QUESTION)
    assert answer.answered and answer.mode == "extractive"
    assert any(e["event"] == "knowledge_llm_failed" for e in logs)


async def test_timeout_falls_back_to_extractive_quickly(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """A provider slower than the configured timeout is abandoned and the extractive answer given instead (the
    model would answer only after 30 s: without the timeout the answer would be the model's)."""
    llm.script("too late [1].", delay=30)
    answer = await llm_kb.answer(QUESTION)
    assert answer.mode == "extractive"


async def test_llm_saying_not_found_means_dont_know(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """When the model says the passages do not answer, the knowledge base does not answer either."""
    llm.script("NOT_IN_PASSAGES")
    answer = await llm_kb.answer(QUESTION)
    assert not answer.answered and answer.text == "" and answer.mode == "none"


async def test_below_threshold_never_calls_the_llm(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """An unanswerable question is refused before any model call (nothing to ground an answer on)."""
    answer = await llm_kb.answer("What is the capital of France?")
    assert not answer.answered
    assert llm.requests == []


async def test_customer_pii_never_reaches_the_llm(llm: ScriptedLLM, llm_kb: KnowledgeBase) -> None:
    """Emails and phone numbers in the question and the earlier turns are masked in the prompt."""
    llm.script("NOT_IN_PASSAGES")
    await llm_kb.answer(f"I'm ada@example.com, call me on +44 20 7946 0011. {QUESTION}",
                        context=["my card is 4111 1111 1111 1111"])
    prompt = " ".join(m["content"] for m in llm.requests[-1]["messages"])
    for secret in ("ada@example.com", "7946 0011", "4111 1111"):
        assert secret not in prompt
    assert "[email]" in prompt and "[phone]" in prompt and "[card]" in prompt
