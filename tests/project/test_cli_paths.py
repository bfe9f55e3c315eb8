"""`careline validate|serve|chat` take a Rasa project directory and Rasa's -c/-d/--data/--endpoints options."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from careline.cli import main
from tests.project.test_layout import CONFIG, DOMAIN_RESPONSES, DOMAIN_SLOTS, ENDPOINTS, FLOWS, NLU, _write


@pytest.fixture
def rasa(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The small Rasa project of the layout tests, with its action server variable set."""
    monkeypatch.setenv("ACTION_SERVER_URL", "http://localhost:5055/webhook")
    return _write(tmp_path / "rasa", {
        "config.yml": CONFIG, "domain/slots.yml": DOMAIN_SLOTS, "domain/responses.yml": DOMAIN_RESPONSES,
        "data/flows.yml": FLOWS, "data/nlu.yml": NLU, "endpoints.yml": ENDPOINTS,
    })


def test_validate_takes_a_rasa_project_directory(rasa: Path) -> None:
    """`careline validate DIR` on a Rasa project prints the summary and how many Rasa keys were not used."""
    result = CliRunner().invoke(main, ["validate", str(rasa)])
    assert result.exit_code == 0, result.output
    assert f"ok: {rasa} — 1 flows, 2 intents" in result.output
    assert "6 Rasa keys accepted but not used" in result.output


def test_validate_defaults_to_the_current_directory(rasa: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like `rasa data validate`, `careline validate` without a path checks the current directory."""
    monkeypatch.chdir(rasa)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "ok: . — 1 flows" in result.output


def test_validate_takes_rasa_path_options(rasa: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """-c, -d, --data (repeated) and --endpoints point at files outside the default layout."""
    moved = tmp_path / "moved"
    shutil.move(rasa / "data", moved / "training")
    shutil.move(rasa / "config.yml", moved / "my-config.yml")
    shutil.move(rasa / "domain", moved / "my-domain")
    shutil.move(rasa / "endpoints.yml", moved / "ep.yml")
    monkeypatch.chdir(moved)
    result = CliRunner().invoke(main, [
        "validate", str(rasa), "-c", "my-config.yml", "-d", "my-domain", "--data", "training/flows.yml",
        "--data", "training/nlu.yml", "--endpoints", "ep.yml"])
    assert result.exit_code == 0, result.output
    assert "1 flows, 2 intents" in result.output


def test_without_project_rasa_options_mean_the_current_directory(rasa: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`careline chat -c config.yml` in a Rasa project loads that project (not the bundled demo): a missing
    domain given with -d is reported for the current directory's project."""
    monkeypatch.chdir(rasa)
    result = CliRunner().invoke(main, ["chat", "-c", "config.yml", "-d", "nowhere"], input="")
    assert result.exit_code == 1
    assert "nowhere: domain (-d/--domain) does not exist" in result.output


def test_serve_takes_rasa_path_options(rasa: Path) -> None:
    """`careline serve --project DIR --endpoints FILE` loads the project with that endpoints file."""
    result = CliRunner().invoke(main, ["serve", "--project", str(rasa), "--endpoints", str(rasa / "missing.yml")])
    assert result.exit_code == 1
    assert f"{rasa / 'missing.yml'}: endpoints file (--endpoints) does not exist" in result.output
