"""Questions about the rules that name a purchase are answered, not pulled into verification (issue #18).

``data/policy_questions_dev.csv`` (38 first messages) and ``data/policy_questions_heldaside.csv`` (18) were written
for this apart from the demo's NLU examples: policy questions that tell a story first ("my lamp came last month,
can I still send it back?", typos, British and American phrasing) against requests about the customer's own
order or booking, many of them questions too ("how long until my sofa gets here?", "can I change the delivery
address on my order?"). The held-aside file was read once, after the patterns were fixed on the dev file.
Measured end to end on the demo (first turn answered from the documents vs a flow started): dev 29/38 → 32/38,
held-aside 15/18 → 16/18; every remaining miss is a question the documents do not answer (the flow then starts
as before) or a request the classifier sends elsewhere.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from bot.app.runtime import Runtime
from bot.kernel.events import FlowStarted, KnowledgeConsulted
from bot.kernel.messages import UserMessage
from bot.nlu.questions import is_policy_question, policy_question

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(("name", "floor"), [("policy_questions_dev", 1.0), ("policy_questions_heldaside", 0.9)])
def test_the_question_form_tells_policy_from_account_requests(name: str, floor: float) -> None:
    with (DATA / f"{name}.csv").open(newline="") as rows:
        labelled = [(row["text"], row["expected"] == "knowledge") for row in csv.DictReader(rows)]
    right = sum(is_policy_question(text) == policy for text, policy in labelled)
    assert right / len(labelled) >= floor


def test_the_story_before_the_question_is_dropped() -> None:
    assert policy_question("my lamp came last month, can I still send it back?") == "can I still send it back?"
    assert policy_question("can I return a mattress I've slept on?") == "can I return a mattress I've slept on?"
    assert policy_question("my lamp hasn't arrived yet, can I return it?") is None


async def test_a_policy_question_naming_a_purchase_is_answered_without_verification(runtime: Runtime) -> None:
    replies = await runtime.engine.handle("pq1", UserMessage("my lamp came last month, can I still send it back?"))
    assert "30 days" in replies[0].text and replies[0].citations
    state = await runtime.engine.state("pq1")
    assert not [e for e in state.events if isinstance(e, FlowStarted)]
    assert [e.answered for e in state.events if isinstance(e, KnowledgeConsulted)][-1]


async def test_a_request_about_the_customers_own_order_still_starts_its_flow(runtime: Runtime) -> None:
    await runtime.engine.handle("pq2", UserMessage("bought a lamp two weeks ago and nothing has turned up"))
    state = await runtime.engine.state("pq2")
    assert "delivery_problem" in [e.flow_id for e in state.events if isinstance(e, FlowStarted)]
