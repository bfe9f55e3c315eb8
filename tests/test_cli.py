"""The careline command line: validate, demo data and the terminal chat."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.settings import DEMO_PROJECT


def test_validate_accepts_the_demo() -> None:
    """`careline validate` on the demo prints a summary and exits 0."""
    result = CliRunner().invoke(main, ["validate", str(DEMO_PROJECT)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:") and "flows" in result.output


def test_validate_reports_problems_without_a_traceback(tmp_path: Path) -> None:
    """A broken project exits 1 with file:line: key messages and no Python traceback."""
    project = tmp_path / "p"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    (project / "config.yml").write_text("assistant_id: x\nlimits:\n  max_message_chars: -5\n")
    result = CliRunner().invoke(main, ["validate", str(project)])
    assert result.exit_code == 1
    assert f"{project / 'config.yml'}:3: key 'limits.max_message_chars':" in result.output
    assert "Traceback" not in result.output


def test_demo_seed_prints_customers_orders_and_appointments() -> None:
    """`careline demo seed --json` prints the demo backend's data as JSON."""
    result = CliRunner().invoke(main, ["demo", "seed", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert {"customers", "orders", "appointments"} <= set(data)
    assert any(order["id"] == "A1001" for order in data["orders"])


def test_chat_answers_in_the_terminal_with_debug_details(tmp_path: Path) -> None:
    """`careline chat --debug` answers each line and shows the intent and status."""
    result = CliRunner().invoke(main, ["chat", "--debug"], input="hello\nare you a bot?\n\n")
    assert result.exit_code == 0, result.output
    assert "bot> Hi! I'm the Northwind assistant" in result.output
    assert "[1] Where is my order?" in result.output
    assert "intent=bot_challenge" in result.output and "status=bot" in result.output


def test_serve_and_chat_report_a_start_up_config_error_without_a_traceback(
        tmp_path: Path, monkeypatch: object) -> None:
    """A problem found while starting (the backend's token variable is unset) exits 1 with the key named."""
    project = tmp_path / "p"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline"))
    config = project / "config.yml"
    config.write_text(config.read_text() + "\nbackend:\n  type: http\n  url: http://127.0.0.1:9/careline\n"
                      "  token_env: CARELINE_TEST_UNSET_TOKEN\n")
    monkeypatch.delenv("CARELINE_TEST_UNSET_TOKEN", raising=False)  # type: ignore[attr-defined]
    for command in (["serve", "--project", str(project), "--port", "0"], ["chat", "--project", str(project)]):
        result = CliRunner().invoke(main, command, input="\n")
        assert result.exit_code == 1, (command, result.output)
        assert "backend.token_env" in result.output and "CARELINE_TEST_UNSET_TOKEN" in result.output
        assert "Traceback" not in result.output
