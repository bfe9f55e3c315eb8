"""`careline report`: the same KPIs in the terminal, as JSON and as CSV."""

from __future__ import annotations

import asyncio
import csv
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.app.cli import main
from bot.storage import open_database
from tests.ops.conftest import seed


@pytest.fixture
def database(tmp_path: Path) -> str:
    """A SQLite file holding the hand-counted dataset, ending now."""
    url = f"sqlite:///{tmp_path / 'report.db'}"

    async def write() -> None:
        db = await open_database(url)
        try:
            await seed(db, now=time.time())
        finally:
            await db.close()

    asyncio.run(write())
    return url


def test_report_prints_a_table(database: str) -> None:
    """The default output is a table with the 7-day KPIs overall and per channel, then per flow."""
    result = CliRunner().invoke(main, ["report", "--since", "7d", "--database", database])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "queue now: 1" in lines[0]
    assert lines[2].split() == ["KPI", "all", "rest", "voice", "web"]
    containment = next(line for line in lines if line.startswith("Containment"))
    assert containment.split()[1:] == ["28.6%", "0.0%", "50.0%", "25.0%"]
    assert any(line.strip().startswith("escalated: auth_failed") for line in lines)
    assert "Per flow" in lines


def test_report_as_json_matches_the_api_shape(database: str) -> None:
    """--json prints the KPI report the API serves: 7 conversations, 3 escalated, per channel and flow."""
    result = CliRunner().invoke(main, ["report", "--since", "7d", "--database", database, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["window"] == "7d" and report["overall"]["conversations"] == 7
    assert report["overall"]["escalated"] == 3 and set(report["by_channel"]) == {"rest", "voice", "web"}


def test_report_writes_csv(database: str, tmp_path: Path) -> None:
    """--csv FILE writes long-format rows (window, segment_type, segment, kpi, value)."""
    path = tmp_path / "kpis.csv"
    result = CliRunner().invoke(main, ["report", "--since", "day", "--database", database, "--csv", str(path)])
    assert result.exit_code == 0, result.output
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    values = {(r["segment_type"], r["segment"], r["kpi"]): r["value"] for r in rows}
    assert values[("all", "all", "conversations")] == "3"
    assert values[("channel", "web", "escalation_rate:emotional")] == "0.5"
    assert values[("all", "all", "queue_length")] == "1"


def test_report_rejects_a_bad_window(database: str) -> None:
    """--since fortnight exits 2 naming the value, without a traceback."""
    result = CliRunner().invoke(main, ["report", "--since", "fortnight", "--database", database])
    assert result.exit_code == 2
    assert "'fortnight'" in result.output and "Traceback" not in result.output
