"""Retention with a frozen clock, on SQLite and PostgreSQL: data past each limit is gone, the rest remains, a
second run changes nothing, and two workers running at once do the work once."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path

from bot.customers.config import DAY, RetentionConfig
from bot.customers.registry import DataTable, register
from bot.customers.retention import RetentionJob
from bot.flows.lockout import SCHEMA as LOCKOUT_SCHEMA
from bot.handoff.audit import SCHEMA as AUDIT_SCHEMA
from bot.kernel.events import BotUttered, ConversationEnded, CsatGiven, Event, SlotSet, UserUttered
from bot.project import Project
from bot.storage import ConversationStore, Database, open_database

NOW = 1_800_000_000.0
POLICY = RetentionConfig(transcripts=365, sensitive_slots=30, drop_sensitive_at_end=True, audit_log=90,
                         qa_scores=30, batch_size=2)
QA = DataTable("test_qa_scores", "conversation", "conversation_id", "delete", "a QA package's scores (test)",
               retention="qa_scores", time_column="at", owner="tests")
register(QA)


def project_with(project: Project, policy: RetentionConfig = POLICY) -> Project:
    return dataclasses.replace(project, config=project.config.model_copy(update={"retention": policy}))


def at(days_ago: float) -> float:
    return NOW - days_ago * DAY


def address_change(days_ago: float) -> list[Event]:
    t = at(days_ago)
    return [UserUttered(text="change it to 1 Main Street, Leeds", intent="inform", timestamp=t),
            SlotSet(name="order_number", value="A1002", timestamp=t),
            SlotSet(name="new_address", value="1 Main Street, Leeds", timestamp=t),
            BotUttered(text='Change the delivery address of order A1002 to "1 Main Street, Leeds"?', timestamp=t)]


async def seed(db: Database) -> ConversationStore:
    store = ConversationStore(db)
    await store.setup()
    old = at(400)
    await store.append("old", [UserUttered(text="my postcode is SW1A 1AA", intent="inform", timestamp=old),
                               SlotSet(name="verification", value="SW1A 1AA", timestamp=old),
                               SlotSet(name="authenticated", value=True, timestamp=old),
                               SlotSet(name="customer_id", value="C001", timestamp=old),
                               BotUttered(text="Thanks Ada, you're verified.", timestamp=old),
                               CsatGiven(score=5, timestamp=old)], expected_seq=0)
    await store.append("mid", address_change(40), expected_seq=0)
    await store.append("fresh", address_change(1), expected_seq=0)
    await store.append("ended", [*address_change(2), ConversationEnded(timestamp=at(2))], expected_seq=0)
    await db.migrate(AUDIT_SCHEMA)
    await db.migrate(LOCKOUT_SCHEMA)
    await db.migrate(["CREATE TABLE IF NOT EXISTS test_qa_scores (id {id}, conversation_id TEXT, score INTEGER, "
                      "at {float} NOT NULL)"])
    for days in (100, 10):
        await db.execute("INSERT INTO handoff_audit (at, actor, role, action, conversation_id, detail) "
                         "VALUES (?, 'amy', 'agent', 'view', 'mid', '{}')", at(days))
        await db.execute("INSERT INTO careline_auth_failures (at, customer_id, client) VALUES (?, 'C001', 'k')",
                         at(days))
        await db.execute("INSERT INTO test_qa_scores (conversation_id, score, at) VALUES ('mid', 3, ?)", at(days - 9))
    return store


async def raw(db: Database, conversation_id: str) -> list[dict[str, object]]:
    rows = await db.fetch("SELECT type, data FROM events WHERE conversation_id = ? ORDER BY seq", conversation_id)
    return [{"type": r["type"], **json.loads(r["data"])} for r in rows]


async def test_each_kind_ages_out_exactly_past_its_limit(database_url: str, demo_project: Project) -> None:
    """Transcripts older than 365 days are redacted (events, intents and the CSAT score stay), sensitive slot
    values older than 30 days or of ended conversations are dropped, audit and QA rows past their limits are
    deleted; everything younger is as it was."""
    db = await open_database(database_url)
    try:
        store = await seed(db)
        job = RetentionJob(db, project_with(demo_project), clock=lambda: NOW)
        report = await job.run()
        assert report.counts == {"transcripts": 6, "sensitive_slots": 6, "qa_scores": 1, "audit_log": 2}

        old = await raw(db, "old")
        assert [e["type"] for e in old] == ["user", "slot", "slot", "slot", "bot", "csat"]
        assert old[0]["text"] == "" and old[0]["intent"] == "inform"
        assert old[1]["value"] is None and old[4]["text"] == "" and old[5]["score"] == 5
        # what the KPIs read stays: the verification, and the customer as a pseudonym naming nobody
        assert old[2]["value"] is True and str(old[3]["value"]).startswith("redacted:") and "C001" not in str(old)

        for name in ("mid", "ended"):  # past 30 days, or ended: the address goes, the order number stays
            events = await raw(db, name)
            assert events[0]["text"] == "[removed]" and events[0]["intent"] == "inform"
            assert (events[1]["name"], events[1]["value"]) == ("order_number", "A1002")
            assert (events[2]["name"], events[2]["value"]) == ("new_address", None)
            assert events[3]["text"] == 'Change the delivery address of order A1002 to "[removed]"?'
        fresh = await raw(db, "fresh")
        assert fresh[2]["value"] == "1 Main Street, Leeds" and str(fresh[0]["text"]).startswith("change it to 1 Main")
        assert "redacted" not in json.dumps(fresh)
        state = await store.load("old")  # redacted events still rebuild a state
        assert [type(e).__name__ for e in state.events] == ["UserUttered", "SlotSet", "SlotSet", "SlotSet",
                                                            "BotUttered", "CsatGiven"]

        audit = await db.fetch("SELECT at FROM handoff_audit")
        assert [float(r["at"]) for r in audit] == [at(10)]
        failures = await db.fetch("SELECT at FROM careline_auth_failures")
        assert [float(r["at"]) for r in failures] == [at(10)]
        scores = await db.fetch("SELECT at FROM test_qa_scores")
        assert [float(r["at"]) for r in scores] == [at(1)]

        again = await job.run()
        assert again.counts == {"transcripts": 0, "sensitive_slots": 0, "qa_scores": 0, "audit_log": 0}
        assert await raw(db, "old") == old
    finally:
        await db.close()


async def test_two_workers_at_once_do_the_work_once(database_url: str, demo_project: Project) -> None:
    """Two jobs on separate connections started together: one runs, the other skips or finds nothing left."""
    db = await open_database(database_url)
    other = await open_database(database_url)
    try:
        await seed(db)
        project = project_with(demo_project)
        first = RetentionJob(db, project, clock=lambda: NOW, worker="w1")
        second = RetentionJob(other, project, clock=lambda: NOW, worker="w2")
        await first.setup()
        reports = await asyncio.gather(first.run(), second.run())
        changed = [sum(r.counts.values()) for r in reports]
        assert sorted(changed) == [0, 15]
    finally:
        await other.close()
        await db.close()


async def test_sensitive_values_go_as_the_conversation_ends(tmp_path: Path, demo_project: Project) -> None:
    """With ``drop_sensitive_at_end``, the engine observer drops an ending conversation's sensitive values at once,
    without waiting for the scheduled run; with it off, nothing changes."""
    db = await open_database(f"sqlite:///{tmp_path}/end.db")
    try:
        store = ConversationStore(db)
        await store.setup()
        await store.append("c", address_change(0), expected_seq=0)
        forgotten: list[str] = []
        off = RetentionJob(db, project_with(demo_project, RetentionConfig()), forget=forgotten.append)
        off.observe("c", [ConversationEnded()], None)
        await off.settle()
        assert (await raw(db, "c"))[2]["value"] == "1 Main Street, Leeds"
        job = RetentionJob(db, project_with(demo_project, RetentionConfig(drop_sensitive_at_end=True)),
                           forget=forgotten.append)
        job.observe("c", [ConversationEnded()], None)
        await job.settle()
        assert (await raw(db, "c"))[2]["value"] is None
        assert forgotten == ["c"]
    finally:
        await db.close()
