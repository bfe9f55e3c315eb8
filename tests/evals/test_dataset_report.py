"""Dataset evaluations write the shared JSON + Markdown report."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.infra.embeddings import Embedder
from careline.cli import main


def test_eval_guard_writes_json_and_markdown_reports(tmp_path: Path, embedder: Embedder) -> None:
    """`careline eval guard --report DIR` writes the printed metrics as JSON and as a Markdown table."""
    data = tmp_path / "human.csv"
    data.write_text("text,label\nlet me talk to a real person,1\nI want an agent now,1\n"
                    "where is my parcel,0\nthanks for your help,0\n")
    result = CliRunner().invoke(main, ["eval", "guard", "--detector", "human_request", "--data", str(data),
                                       "--json", "--report", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output.strip().splitlines()[-1])
    saved = json.loads((tmp_path / "report" / "guard-human_request.json").read_text())
    assert saved == printed and saved["precision"] == 1.0 and saved["recall"] == 1.0
    table = (tmp_path / "report" / "guard-human_request.md").read_text()
    assert table.startswith("# careline eval guard-human_request")
    assert "| precision | 1.0000 |" in table and "| recall | 1.0000 |" in table
