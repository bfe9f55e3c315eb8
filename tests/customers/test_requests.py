"""Data-subject requests: export and erase over the ops API (audited, role-checked), two-person confirmation,
and coverage: every table in a fully set-up database is declared in the data registry."""

from __future__ import annotations

import dataclasses
import importlib
import json
import pkgutil
from pathlib import Path

import aiohttp
import pytest

import bot
import connectors
from bot.app.runtime import Runtime
from bot.customers.registry import registered, tables_in
from bot.customers.requests import ConfirmationRefused, ConfirmationRequired, DataRequests
from bot.kernel.events import UserUttered
from bot.project import Project
from bot.storage import ConversationStore, Database, open_database
from tests.customers.test_continuity import leave_address_change_open, say

OPS = {"Authorization": "Bearer ops-token-1234"}
AGENT = {"Authorization": "Bearer agent-token-123"}
#: Modules whose ``SCHEMA`` is for a database of their own, not the conversation database.
OWN_DATABASES = {"bot.flows.backend.demo": "the demo backend's in-memory shop",
                 "bot.knowledge.store": "the knowledge index file"}


def every_schema() -> list[tuple[str, list[str]]]:
    """Each module of bot/ and connectors/ with a ``SCHEMA`` of CREATE statements (imported to find out)."""
    found: list[tuple[str, list[str]]] = []
    for package in (bot, connectors):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name in OWN_DATABASES or info.name.endswith((".cli", "__main__")):
                continue
            module = importlib.import_module(info.name)
            schema = getattr(module, "SCHEMA", None)
            if isinstance(schema, list | tuple) and any("CREATE TABLE" in str(s) for s in schema):
                found.append((info.name, [str(s) for s in schema]))
    return found


async def test_every_table_of_a_fully_set_up_database_is_covered_by_export_and_erase(runtime: Runtime) -> None:
    """After the runtime and every package's schema are set up, each table is in the data registry (a package
    that adds a table without registering it fails here, naming it)."""
    for _name, schema in every_schema():
        await runtime.database.migrate(schema)
    present = await tables_in(runtime.database)
    assert {"events", "careline_customer_links", "handoff_audit", "careline_auth_locks"} <= present
    missing = sorted(present - set(registered()))
    assert missing == [], f"register these tables in bot.customers.registry: {missing}"


async def test_export_and_erase_over_the_ops_api(server: str, runtime: Runtime) -> None:
    """Ops exports everything held (both linked conversations, contact points), then erases: the events stay
    with their kinds and intents but lose every word, the customer records go, and the audit trail names who
    did what; agents and anonymous callers are refused."""
    chat = await leave_address_change_open(runtime)
    await say(runtime, "rest-x", "where is my order?", "rest")
    await say(runtime, "rest-x", "ada@example.com", "rest")
    await say(runtime, "rest-x", "SW1A 1AA", "rest")
    url = f"{server}/api/ops/customers/C001"
    before = await runtime.database.fetch("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type")
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/export") as resp:
            assert resp.status == 401
        async with http.get(url + "/export", headers=AGENT) as resp:
            assert resp.status == 403
        async with http.get(f"{server}/api/ops/customers/bad%20id/export", headers=OPS) as resp:
            assert resp.status == 400 and "customer id" in (await resp.json())["error"]
        async with http.get(url + "/export", headers=OPS) as resp:
            assert resp.status == 200
            exported = await resp.json()
        assert exported["conversations"] == sorted([chat, "rest-x"])
        texts = [e["data"].get("text") for e in exported["tables"]["events"]]
        assert "ada@example.com" in texts
        assert {c["kind"] for c in exported["tables"]["careline_customer_contacts"]} == {"email", "device"}
        async with http.post(url + "/erase", headers=OPS, json={"confirm": "yes"}) as resp:
            assert resp.status == 400
        async with http.post(url + "/erase", headers=OPS) as resp:
            assert resp.status == 200
            erased = await resp.json()
        async with http.get(url + "/requests", headers=OPS) as resp:
            trail = (await resp.json())["requests"]
    assert erased["conversations"] == sorted([chat, "rest-x"]) and erased["events_redacted"] > 10
    assert erased["rows_deleted"]["careline_customer_links"] == 2
    dump = json.dumps(await runtime.database.fetch("SELECT data FROM events"))
    for value in ("ada@example.com", "SW1A", "A1002", "Ada", "C001"):
        assert value not in dump
    pseudonyms = {(await runtime.engine.state(c)).slots["customer_id"] for c in (chat, "rest-x")}
    assert len(pseudonyms) == 1 and next(iter(pseudonyms)).startswith("erased:")  # one customer, named by nobody
    assert (await runtime.engine.state("rest-x")).slots["authenticated"] is True
    after = await runtime.database.fetch("SELECT type, COUNT(*) AS n FROM events GROUP BY type ORDER BY type")
    assert after == before  # every event is still there: KPIs keep their counts
    state = await runtime.engine.state(chat)
    assert next(e.intent for e in state.events if isinstance(e, UserUttered)) == "change_delivery_address"
    assert await runtime.database.fetch("SELECT * FROM careline_customer_contacts") == []
    assert [(r["action"], r["actor"]) for r in trail] == [("export", "olga"), ("erase", "olga")]
    assert "ada@example.com" not in json.dumps(trail)
    assert runtime.customers is not None and await runtime.customers.links("C001") == []


async def seeded(tmp_path: Path, demo_project: Project) -> tuple[Database, DataRequests]:
    db = await open_database(f"sqlite:///{tmp_path / 'dsr.db'}")
    await ConversationStore(db).setup()
    project = dataclasses.replace(demo_project, config=demo_project.config.model_copy(update={
        "customers": demo_project.config.customers.model_copy(update={"erase_confirmation": "two_person"})}))
    requests = DataRequests(db, project)
    await requests.setup()
    await requests.customers.link("C001", "c1", channel="web")
    return db, requests


async def test_two_person_erasure_needs_a_second_operator(tmp_path: Path, demo_project: Project) -> None:
    """With ``erase_confirmation: two_person`` the first erase is only a request; its own requester cannot confirm
    it, a second operator can, and it cannot be carried out twice."""
    db, requests = await seeded(tmp_path, demo_project)
    try:
        with pytest.raises(ConfirmationRequired) as pending:
            await requests.erase("C001", actor="olga")
        assert await requests.customers.links("C001") != []
        with pytest.raises(ConfirmationRefused, match="cannot confirm"):
            await requests.erase("C001", actor="olga", confirm=pending.value.request_id)
        with pytest.raises(ConfirmationRefused, match="no erasure request"):
            await requests.erase("C002", actor="bob", confirm=pending.value.request_id)
        done = await requests.erase("C001", actor="bob", confirm=pending.value.request_id)
        assert done.rows_deleted["careline_customer_links"] == 1
        with pytest.raises(ConfirmationRefused, match="already"):
            await requests.erase("C001", actor="bob", confirm=pending.value.request_id)
        trail = await requests.history("C001")
        assert [(r["action"], r["actor"]) for r in trail] == [
            ("erase_requested", "olga"), ("erase_confirmed", "bob"), ("erase", "bob")]
    finally:
        await db.close()


def test_cli_exports_and_erases(tmp_path: Path) -> None:
    """``careline customer export`` prints the customer's data as JSON; ``erase --yes`` erases it; both are in
    the audit trail as ``cli:<user>``."""
    import asyncio

    from click.testing import CliRunner

    from bot.app.cli import main
    from bot.customers.store import CustomerStore

    url = f"sqlite:///{tmp_path / 'cli.db'}"

    def result(output: str) -> dict[str, object]:
        """The JSON the command printed (log lines of an earlier test's logging set-up may precede it)."""
        data: dict[str, object] = json.loads(output[output.index("{\n"):] if not output.startswith("{") else output)
        return data

    async def link() -> None:
        db = await open_database(url)
        await ConversationStore(db).setup()
        await CustomerStore(db).link("C001", "c1", channel="rest")
        await db.close()

    asyncio.run(link())
    runner = CliRunner()
    exported = runner.invoke(main, ["customer", "export", "C001", "--database", url])
    assert exported.exit_code == 0, exported.output
    assert result(exported.stdout)["conversations"] == ["c1"]
    refused = runner.invoke(main, ["customer", "erase", "C001", "--database", url], input="n\n")
    assert refused.exit_code != 0
    erased = runner.invoke(main, ["customer", "erase", "C001", "--yes", "--database", url])
    assert erased.exit_code == 0, erased.output
    assert result(erased.stdout)["rows_deleted"] == {"careline_customer_contacts": 0, "careline_customers": 1,
                                                    "careline_customer_links": 1}
