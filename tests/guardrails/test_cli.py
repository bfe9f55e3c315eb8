"""``careline eval guard`` measures one detector on a labelled CSV; ``careline scope`` changes and rolls back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from careline.cli import main

DATA = Path(__file__).parent / "data"


def test_eval_guard_prints_precision_recall_f1_and_latency() -> None:
    """The injection detector's numbers on the bundled CSV come out as JSON, and they are good."""
    result = CliRunner().invoke(main, ["eval", "guard", "--detector", "prompt_injection",
                                       "--data", str(DATA / "injection.csv"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["examples"] == 28 and report["tp"] + report["fn"] == 14
    assert report["precision"] >= 0.9 and report["recall"] >= 0.9 and report["f1"] >= 0.9
    assert report["latency_ms"]["p95"] < 50


def test_eval_guard_names_a_bad_detector_or_file(tmp_path: Path) -> None:
    """An unknown detector and a CSV without the label column are usage errors that say what is wrong."""
    runner = CliRunner()
    result = runner.invoke(main, ["eval", "guard", "--detector", "nope", "--data", str(DATA / "injection.csv")])
    assert result.exit_code == 2 and "no detector 'nope'" in result.output
    bad = tmp_path / "bad.csv"
    bad.write_text("text,score\nhello,1\n")
    result = runner.invoke(main, ["eval", "guard", "--detector", "pii", "--data", str(bad)])
    assert result.exit_code == 2 and "'text' and 'label'" in result.output


def test_scope_commands_change_show_and_roll_back(tmp_path: Path) -> None:
    """set → show → history → rollback against one SQLite file, each printing JSON."""
    database = f"sqlite:///{tmp_path / 'scope.db'}"
    runner = CliRunner(env={"CARELINE_REDIS_URL": ""})

    def run(*args: str) -> Any:
        """The command's JSON output (a scope, a version or the history: untyped JSON)."""
        result = runner.invoke(main, ["scope", *args, "--database", database, "--json"])
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    changed = run("set", "--automation", "off", "--flow", "greet=off", "--reason", "incident", "--author", "olga")
    assert changed["version"] == 2 and changed["scope"]["automation"] is False
    assert run("show")["scope"]["flows"] == {"greet": False}
    restored = run("rollback", "1", "--reason", "over", "--author", "olga")
    assert restored["version"] == 3 and restored["restored_from"] == 1
    assert [v["kind"] for v in run("history")] == ["rollback", "set", "initial"]
    result = runner.invoke(main, ["scope", "set", "--flow", "nope=off", "--reason", "x", "--database", database])
    assert result.exit_code == 1 and "unknown flow 'nope'" in result.output


def test_project_releases_are_recorded_and_restorable(tmp_path: Path) -> None:
    """Each new project fingerprint is a release; a release's files can be written back and load again."""
    import asyncio
    import shutil

    from bot.infra.settings import DEMO_PROJECT
    from bot.ops.releases import ReleaseStore
    from bot.project import load_project
    from bot.storage import open_database

    project_dir = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, project_dir, ignore=shutil.ignore_patterns(".careline"))
    database = f"sqlite:///{tmp_path / 'releases.db'}"

    async def deploy() -> None:
        db = await open_database(database)
        store = ReleaseStore(db)
        await store.setup()
        await store.record(load_project(project_dir))
        await db.close()

    asyncio.run(deploy())
    (project_dir / "domain.yml").write_text((project_dir / "domain.yml").read_text().replace("Northwind", "Southwind"))
    asyncio.run(deploy())
    runner = CliRunner(env={"CARELINE_REDIS_URL": ""})
    result = runner.invoke(main, ["scope", "releases", "--database", database, "--json"])
    assert result.exit_code == 0, result.output
    releases = json.loads(result.stdout)
    assert [r["release"] for r in releases] == [2, 1]
    restored = tmp_path / "restored"
    result = runner.invoke(main, ["scope", "restore-release", "1", "--to", str(restored), "--database", database])
    assert result.exit_code == 0, result.output
    assert "Northwind" in (restored / "domain.yml").read_text()
    assert load_project(restored).fingerprint == load_project(DEMO_PROJECT).fingerprint
