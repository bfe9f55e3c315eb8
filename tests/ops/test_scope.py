"""The automation scope is versioned in the database, rolls back in one call and reaches every worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from bot.kernel.errors import RequestError
from bot.ops.gate import rollout_bucket
from bot.ops.scope import InvalidScopeChange, ScopeService, UnknownScopeVersion, merge_scope
from bot.project.schema import AutomationScope
from bot.storage import Database, open_database
from tests.ops.polling import wait_for


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A fresh database (SQLite file or PostgreSQL schema)."""
    db = await open_database(database_url)
    yield db
    await db.close()


@pytest.fixture
async def service(database: Database) -> AsyncIterator[ScopeService]:
    """A scope service over ``database`` knowing two flows and two intents."""
    svc = ScopeService(database, AutomationScope(), flows=["greet", "feedback"], intents=["greet", "help"])
    await svc.setup()
    yield svc
    await svc.close()


async def test_every_change_is_a_version_with_author_time_and_reason(service: ScopeService) -> None:
    """Setup writes version 1; each change adds a version and keeps unnamed switches."""
    assert (service.current.version, service.current.kind) == (1, "initial")
    v2 = await service.update({"flows": {"greet": False}}, author="olga", reason="greet misbehaves")
    v3 = await service.update({"rollout": 25}, author="sam", reason="slow start")
    assert (v2.version, v3.version) == (2, 3)
    assert v3.scope.flows == {"greet": False} and v3.scope.rollout == 25
    history = await service.history()
    assert [(v.version, v.author, v.reason) for v in history] == [
        (3, "sam", "slow start"), (2, "olga", "greet misbehaves"), (1, "guardrails.yml", "initial scope")]
    assert all(v.created_at > 0 for v in history)


async def test_rollback_restores_any_earlier_version_and_keeps_history(service: ScopeService) -> None:
    """Rolling back to version 1 is a new version with version 1's scope; nothing is deleted."""
    await service.update({"automation": False, "channels": {"voice": False}}, author="olga", reason="incident")
    restored = await service.rollback(1, author="olga", reason="incident over")
    assert restored.version == 3 and restored.kind == "rollback" and restored.restored_from == 1
    assert restored.scope == AutomationScope() and service.scope == AutomationScope()
    assert len(await service.history()) == 3
    with pytest.raises(UnknownScopeVersion):
        await service.rollback(99, author="olga", reason="typo")


async def test_history_survives_a_restart(database: Database) -> None:
    """A second service over the same database sees the latest version, not the configured one."""
    first = ScopeService(database, AutomationScope())
    await first.setup()
    await first.update({"automation": False}, author="olga", reason="outage")
    second = ScopeService(database, AutomationScope(rollout=10))
    await second.setup()
    assert second.current.version == 2 and second.scope.automation is False


@pytest.mark.parametrize(("changes", "reason", "message"), [
    ({"automation": "no"}, "r", "'automation' must be true or false"),
    ({"flows": {"nope": False}}, "r", "unknown flow 'nope'"),
    ({"intents": {"greet": "off"}}, "r", "'intents.greet' must be true, false or null"),
    ({"rollout": 150}, "r", "'rollout'"),
    ({"colour": "red"}, "r", "unknown scope key 'colour'"),
    ({"automation": False}, "  ", "'reason' is required"),
])
async def test_bad_changes_are_refused_with_a_reason(service: ScopeService, changes: dict[str, object], reason: str,
                                                     message: str) -> None:
    """Each malformed change raises a 400-class error naming what is wrong, and writes nothing."""
    with pytest.raises(InvalidScopeChange, match=message) as caught:
        await service.update(changes, author="olga", reason=reason)
    assert isinstance(caught.value, RequestError) and caught.value.status == 400
    assert service.current.version == 1


def test_null_drops_a_switch() -> None:
    """``null`` in a switch map returns the switch to its default (on)."""
    scope = merge_scope(AutomationScope(flows={"a": False, "b": False}), {"flows": {"a": None}})
    assert scope.flows == {"b": False}


def test_rollout_buckets_are_stable_and_spread() -> None:
    """A conversation always lands in the same bucket; about a quarter of ids fall under 25%."""
    assert rollout_bucket("abc") == rollout_bucket("abc")
    share = sum(rollout_bucket(f"c{i}") < 25 for i in range(2000)) / 2000
    assert 0.2 < share < 0.3


@pytest.mark.redis
@pytest.mark.postgres
async def test_a_change_reaches_another_worker_through_redis_before_its_poll(pg_url: str, redis_url: str) -> None:
    """Two services on one PostgreSQL schema and one Redis, re-reading the history only every 60 s: a change on one
    is adopted by the other through Redis, long before that poll (the wait gives up after 10 s)."""
    db_a, db_b = await open_database(pg_url), await open_database(pg_url)
    a = ScopeService(db_a, AutomationScope(), redis_url=redis_url, poll_seconds=60)
    b = ScopeService(db_b, AutomationScope(), redis_url=redis_url, poll_seconds=60)
    try:
        for svc in (a, b):
            await svc.setup()
            await svc.start()
        written = await a.update({"automation": False}, author="olga", reason="incident")
        async def adopted() -> bool:
            return b.current.version == written.version

        await wait_for(adopted, within=10.0)
        assert b.scope.automation is False
        assert (b.current.author, b.current.reason) == ("olga", "incident")
    finally:
        for svc in (a, b):
            await svc.close()
        await db_a.close()
        await db_b.close()


@pytest.mark.postgres
async def test_concurrent_changes_get_distinct_versions(pg_url: str) -> None:
    """Changes racing from two workers are all kept, each under its own version number."""
    db_a, db_b = await open_database(pg_url), await open_database(pg_url)
    a, b = ScopeService(db_a, AutomationScope()), ScopeService(db_b, AutomationScope())
    try:
        await a.setup()
        await b.setup()
        await asyncio.gather(*(svc.update({"rollout": float(i)}, author=f"w{i}", reason="race")
                               for i, svc in enumerate([a, b, a, b])))
        versions = [v.version for v in await a.history()]
        assert sorted(versions) == [1, 2, 3, 4, 5]
    finally:
        await db_a.close()
        await db_b.close()
