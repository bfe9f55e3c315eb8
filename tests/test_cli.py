"""The careline command line: validate, demo data, the terminal chat and what `serve` checks and prints."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bot.infra.settings import DEMO_PROJECT, Settings
from bot.project import load_project
from careline.cli import main
from connectors.web.cli import open_rest_refusal

OPERATOR_ADMIN = "operator-admin-token-42"
OPERATOR_TOKENS = "amy:agent:operator-agent-token,olga:ops:operator-ops-token"


def project_copy(tmp_path: Path, extra_config: str = "") -> Path:
    """A copy of the demo project outside the package, with ``extra_config`` appended to its config.yml."""
    project = tmp_path / "p"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline"))
    config = project / "config.yml"
    config.write_text(config.read_text() + extra_config)
    return project


@pytest.fixture
def no_run_app(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """`careline serve` checks, prints and returns instead of serving; the list holds what it would serve."""
    served: list[Any] = []

    def run_app(app: Any, **_kwargs: Any) -> None:
        served.append(app)
        app.close()  # the coroutine that builds the runtime: never started

    monkeypatch.setattr("aiohttp.web.run_app", run_app)
    for name in ("CARELINE_REST_TOKEN", "CARELINE_ADMIN_TOKEN", "CARELINE_TOKENS"):
        monkeypatch.delenv(name, raising=False)
    return served


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
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A problem found while starting (the backend's token variable is unset) exits 1 with the key named."""
    project = tmp_path / "p"
    shutil.copytree(DEMO_PROJECT, project, ignore=shutil.ignore_patterns(".careline"))
    config = project / "config.yml"
    config.write_text(config.read_text() + "\nbackend:\n  type: http\n  url: http://127.0.0.1:9/careline\n"
                      "  token_env: CARELINE_TEST_UNSET_TOKEN\n")
    monkeypatch.delenv("CARELINE_TEST_UNSET_TOKEN", raising=False)
    monkeypatch.setenv("CARELINE_REST_TOKEN", "rest-token-0123456789")
    for command in (["serve", "--project", str(project), "--port", "0"], ["chat", "--project", str(project)]):
        result = CliRunner().invoke(main, command, input="\n")
        assert result.exit_code == 1, (command, result.output)
        assert "backend.token_env" in result.output and "CARELINE_TEST_UNSET_TOKEN" in result.output
        assert "Traceback" not in result.output


def test_open_rest_refusal_allows_a_token_an_explicit_open_channel_or_the_demo(tmp_path: Path) -> None:
    """Outside the bundled demo, no REST token and no `channels.rest.open` is refused; any of the three is not."""
    closed = project_copy(tmp_path)
    project = load_project(closed)
    reason = open_rest_refusal(Settings(project=closed), project)
    assert reason is not None and "CARELINE_REST_TOKEN" in reason and "open: true" in reason
    assert "\n" not in reason
    assert open_rest_refusal(Settings(project=closed, rest_token="rest-token-0123456789"), project) is None
    opened = project_copy(tmp_path / "o", "\nchannels:\n  rest:\n    open: true\n")
    assert open_rest_refusal(Settings(project=opened), load_project(opened)) is None
    assert open_rest_refusal(Settings(project=DEMO_PROJECT), load_project(DEMO_PROJECT)) is None


def test_serve_refuses_to_start_an_open_rest_channel_outside_the_demo(tmp_path: Path) -> None:
    """`careline serve --project COPY` without CARELINE_REST_TOKEN or `channels.rest.open` exits 1 with one
    line naming both ways out (a real process, so nothing of the test's own set-up helps it)."""
    env = {k: v for k, v in os.environ.items() if k != "CARELINE_REST_TOKEN"}
    result = subprocess.run(
        [sys.executable, "-m", "careline", "serve", "--project", str(project_copy(tmp_path)), "--port", "0"],
        env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 1, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "CARELINE_REST_TOKEN" in errors[0] and "open: true" in errors[0], result.stderr
    assert "Traceback" not in result.stderr and "Careline serving" not in result.stdout


def test_serve_warns_when_it_serves_an_open_rest_channel(tmp_path: Path, no_run_app: list[Any]) -> None:
    """A project that says `channels.rest.open: true`, and the bundled demo, start with a rest_channel_open
    warning; with a REST token there is none."""
    opened = project_copy(tmp_path, "\nchannels:\n  rest:\n    open: true\n")
    for args, demo in ((["--project", str(opened)], "False"), ([], "True")):
        result = CliRunner().invoke(main, ["serve", *args, "--port", "0"])
        assert result.exit_code == 0, result.output
        assert "rest_channel_open" in result.output and f"demo={demo}" in result.output
    result = CliRunner().invoke(main, ["serve", "--port", "0"], env={"CARELINE_REST_TOKEN": "rest-token-0123456789"})
    assert result.exit_code == 0 and "rest_channel_open" not in result.output
    assert len(no_run_app) == 3


def test_serve_prints_generated_tokens_and_never_the_operators(no_run_app: list[Any]) -> None:
    """Generated admin, agent and ops tokens are printed so the demo can be used; tokens the operator set
    through CARELINE_ADMIN_TOKEN or CARELINE_TOKENS never appear in the output."""
    generated = CliRunner().invoke(main, ["serve", "--port", "0"])
    assert generated.exit_code == 0, generated.output
    assert "admin token:" in generated.output and "agent token:" in generated.output
    chosen = CliRunner().invoke(main, ["serve", "--port", "0"],
                                env={"CARELINE_ADMIN_TOKEN": OPERATOR_ADMIN, "CARELINE_TOKENS": OPERATOR_TOKENS})
    assert chosen.exit_code == 0, chosen.output
    for secret in (OPERATOR_ADMIN, "operator-agent-token", "operator-ops-token"):
        assert secret not in chosen.output
    assert "token:" not in chosen.output and "REST channel:" in chosen.output
