"""The knowledge dataset evaluations: retrieval (:mod:`evals.knowledge`, ``careline eval kb``) and answers
(:mod:`evals.knowledge_answers`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.infra.embeddings import Embedder
from bot.kernel.errors import ConfigError
from evals.datasets import eval_kb
from evals.knowledge import read_queries
from evals.knowledge_answers import contains_fact, read_qa
from tests.knowledge.conftest import SMALL_DOCS, write_docs

QA = Path(__file__).resolve().parents[2] / "evals" / "data" / "knowledge"


@pytest.fixture
def small_project(tmp_path: Path) -> Path:
    """A project folder with three small documents (Markdown, HTML, text)."""
    return write_docs(tmp_path / "project", SMALL_DOCS)


@pytest.fixture
def _same_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """The command uses the session's embedder instead of loading another one."""
    monkeypatch.setattr("bot.infra.embeddings.shared_embedder", lambda: embedder)


@pytest.mark.usefixtures("_same_embedder")
def test_eval_kb_prints_recall_mrr_and_latency(small_project: Path, tmp_path: Path) -> None:
    """``eval kb`` scores queries by doc id and reports recall@1/@5, MRR@5 and latency percentiles."""
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(json.dumps(q) for q in [
        {"query": "when can I get my money back", "relevant": ["returns"]},
        {"query": "what time do you open on Saturday", "relevant": ["hours"]},
        {"query": "and how often should I do that?", "context": ["I have a leather sofa"],
         "relevant": ["care/leather"]},
    ]))
    result = CliRunner().invoke(eval_kb, ["--docs", str(small_project / "knowledge"), "--queries", str(queries),
                                          "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert data["queries"] == 3
    assert data["recall_at_1"] == 1.0 and data["mrr_at_5"] == 1.0
    assert 0 < data["latency_p50_ms"] <= data["latency_p95_ms"]


def test_malformed_query_file_names_the_line(tmp_path: Path) -> None:
    """A query line without "query" is a ConfigError that names the file and line."""
    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "ok", "relevant": ["a"]}\n{"relevant": ["b"]}\n')
    with pytest.raises(ConfigError, match=r"q.jsonl:2"):
        read_queries(path)


def test_fact_match_ignores_source_line_and_dash_kind() -> None:
    """The expected fact must be in the answer body, not only in the appended source line."""
    assert contains_fact("Express takes 1-2 business days.\n\n(Source: Shipping)", ["1–2 business days"])
    assert not contains_fact("See below.\n\n(Source: 100-night mattress trial)", ["100-night"])


def test_qa_files_load_and_holdout_is_at_least_30_percent() -> None:
    """The shipped QA sets parse; ≥150 answerable, ≥50 unanswerable overall, holdout ≥30 %."""
    dev, holdout = read_qa(QA / "qa_dev.yml"), read_qa(QA / "qa_holdout.yml")
    every = dev + holdout
    assert sum(c.answerable for c in every) >= 150
    assert sum(not c.answerable for c in every) >= 50
    assert len(holdout) / len(every) >= 0.30


def test_bad_case_is_a_config_error(tmp_path: Path) -> None:
    """An answerable case without a fact names the case."""
    path = tmp_path / "qa.yml"
    path.write_text("cases:\n- {q: 'hello'}\n")
    with pytest.raises(ConfigError, match=r"cases\[0\]"):
        read_qa(path)
