"""``careline handoff``: schema, queue and audit from the terminal, reading the same database as the server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bot.app.cli import main
from bot.kernel.events import Escalated, UserUttered
from bot.storage import ConversationStore, open_database


def test_schema_prints_the_versioned_context_schema() -> None:
    """The printed schema is JSON with schema_version 2 required."""
    result = CliRunner().invoke(main, ["handoff", "schema"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.output)
    assert schema["properties"]["schema_version"] == {"const": 2} and "transcript" in schema["required"]


def test_queue_and_audit_read_the_database(tmp_path: Path) -> None:
    """The queue lists an escalated conversation; the CLI's own view is then in the audit trail."""
    import asyncio

    url = f"sqlite:///{tmp_path / 'cli.db'}"

    async def seed() -> None:
        db = await open_database(url)
        store = ConversationStore(db)
        await store.setup()
        await store.append("q1", [UserUttered(text="help"), Escalated(reason="regulated", team="compliance",
                                                                      priority=7)], expected_seq=0)
        await db.close()

    asyncio.run(seed())
    runner = CliRunner(env={"CARELINE_REDIS_URL": ""})
    result = runner.invoke(main, ["handoff", "queue", "--database", url, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["conversation_id"], r["reason"], r["team"]) for r in rows] == [("q1", "regulated", "compliance")]
    result = runner.invoke(main, ["handoff", "audit", "--database", url, "--json"])
    audit = json.loads(result.output)
    assert audit[0]["action"] == "view_queue" and audit[0]["actor"].startswith("cli:")
