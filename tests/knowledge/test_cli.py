"""``careline kb ingest|query`` from the command line (``careline eval kb``: ``tests/evals/test_knowledge.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.infra.embeddings import Embedder
from bot.knowledge.cli import kb


@pytest.fixture(autouse=True)
def _same_embedder(monkeypatch: pytest.MonkeyPatch, embedder: Embedder) -> None:
    """The commands use the session's embedder instead of loading another one."""
    monkeypatch.setattr("bot.infra.embeddings.shared_embedder", lambda: embedder)


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
