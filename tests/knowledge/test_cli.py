"""``careline kb ingest|query`` and ``careline eval kb`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.embeddings import Embedder
from bot.errors import ConfigError
from bot.knowledge.cli import kb
from bot.knowledge.evaluate import read_queries
from evals.datasets import eval_kb


@pytest.fixture(autouse=True)
def _same_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """The commands use the session's embedder instead of loading another one."""
    monkeypatch.setattr("bot.embeddings.shared_embedder", lambda: embedder)


def test_ingest_then_query_as_json(small_project: Path) -> None:
    """``kb ingest`` reports the documents, a second run finds nothing changed, ``kb query --json`` ranks chunks."""
    (small_project / "config.yml").write_text("assistant_id: test\n")
    (small_project / "domain.yml").write_text("responses: {}\n")
    runner = CliRunner()
    first = runner.invoke(kb, ["ingest", str(small_project)])
    assert first.exit_code == 0, first.output
    assert "documents: 3 (added 3" in first.output
    second = runner.invoke(kb, ["ingest", str(small_project)])
    assert "unchanged 3" in second.output
    result = runner.invoke(kb, ["query", str(small_project), "how long do refunds take", "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert len(data["results"]) == 2
    assert data["results"][0]["doc_id"] == "returns"
    assert data["results"][0]["heading"] == "How long do refunds take?"
    assert set(data["results"][0]) >= {"doc_id", "heading", "score", "text"}


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
