"""The roll-back switch: the automation scope, versioned in the database, the same on every worker.

Every change (by ops, the CLI or the circuit breaker) is a new :class:`ScopeVersion` with author,
time and reason; a rollback is a change whose scope is an earlier version's. Nothing is ever deleted.
The history lives in the conversation database (SQLite or PostgreSQL). Workers learn of a change
through Redis pub/sub (within a second) and, as a safety net, re-read the latest version every few
seconds; a single worker just updates itself. Turns read the in-memory copy, so a change applies to
conversations in progress at their next turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import reprlib
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from bot.infra.logs import get_logger
from bot.kernel.errors import ConcurrentWriteError, RequestError, StoreError
from bot.project.schema import AutomationScope
from bot.storage import Database

log = get_logger(__name__)

CHANNEL = "careline:scope"
SCHEMA = [
    """CREATE TABLE IF NOT EXISTS careline_scope_versions (
        version INTEGER PRIMARY KEY,
        scope {json} NOT NULL,
        author TEXT NOT NULL,
        reason TEXT NOT NULL,
        kind TEXT NOT NULL,
        restored_from INTEGER,
        created_at {float} NOT NULL
    )""",
]
KINDS = ("initial", "set", "rollback", "breaker")
MAX_REASON = 500
#: Versions are positive and fit the column on both dialects (PostgreSQL ``INTEGER`` is 32-bit).
MAX_VERSION = 2**31 - 1


class InvalidScopeChange(RequestError):
    """A scope change we refuse (unknown key, wrong type, unknown flow or intent, missing reason)."""

    status = 400


class UnknownScopeVersion(RequestError):
    """A rollback named a version that does not exist."""

    status = 404


@dataclass(frozen=True, slots=True)
class ScopeVersion:
    """One entry of the scope's history."""

    version: int
    scope: AutomationScope
    author: str
    reason: str
    kind: str
    """``initial`` (from guardrails.yml), ``set``, ``rollback`` or ``breaker``."""
    created_at: float
    restored_from: int | None = None
    """For a rollback: the version whose scope was restored."""

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "scope": self.scope.model_dump(), "author": self.author,
                "reason": self.reason, "kind": self.kind, "created_at": self.created_at,
                "restored_from": self.restored_from}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ScopeVersion:
        return cls(int(row["version"]), AutomationScope.model_validate(json.loads(row["scope"])), row["author"],
                   row["reason"], row["kind"], float(row["created_at"]),
                   None if row["restored_from"] is None else int(row["restored_from"]))


def merge_scope(scope: AutomationScope, changes: Mapping[str, Any], *, flows: Iterable[str] | None = None,
                intents: Iterable[str] | None = None) -> AutomationScope:
    """``scope`` with a partial update applied; switch maps merge (``null`` drops a switch).

    Raises :class:`InvalidScopeChange` naming the key and the value it got.
    """
    data = scope.model_dump()
    for key, value in changes.items():
        if key not in data:
            raise InvalidScopeChange(f"unknown scope key {key!r}; expected one of {sorted(data)}")
        if isinstance(data[key], dict):
            if not isinstance(value, dict):
                raise InvalidScopeChange(f"'{key}' must be an object of name: true/false, got {value!r}")
            for name, switch in value.items():
                if switch is None:
                    data[key].pop(name, None)
                elif not isinstance(switch, bool):
                    raise InvalidScopeChange(f"'{key}.{name}' must be true, false or null, got {switch!r}")
                else:
                    data[key][name] = switch
        elif key == "automation" and not isinstance(value, bool):
            raise InvalidScopeChange(f"'automation' must be true or false, got {value!r}")
        else:
            data[key] = value
    for key, known in (("flows", flows), ("intents", intents)):
        if known is not None and (unknown := sorted(set(changes.get(key) or {}) - set(known))):
            raise InvalidScopeChange(f"unknown {key[:-1]} {', '.join(map(repr, unknown))} in '{key}'")
    try:
        return AutomationScope.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise InvalidScopeChange(f"'{where}': {first['msg']} (got {first.get('input')!r})") from exc


def check_reason(reason: Any) -> str:
    """A change's reason: a non-empty string of at most 500 characters."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidScopeChange("'reason' is required: say why the scope changes")
    if len(reason) > MAX_REASON:
        raise InvalidScopeChange(f"'reason' is {len(reason)} characters; the limit is {MAX_REASON}")
    return reason.strip()


def check_version(version: Any) -> int:
    """A version number as given: an integer (not a boolean) from 1 to :data:`MAX_VERSION`."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise InvalidScopeChange(f"'version' must be an integer, got {reprlib.repr(version)}")
    if not 1 <= version <= MAX_VERSION:
        shown = str(version) if version.bit_length() <= 64 else f"an integer of {version.bit_length()} bits"
        raise InvalidScopeChange(f"'version' must be an integer from 1 to {MAX_VERSION}, got {shown}")
    return version


class ScopeService:
    """The current scope of this process, its history, and the fan-out to the other workers."""

    def __init__(self, database: Database, initial: AutomationScope, *, redis_url: str | None = None,
                 flows: Iterable[str] | None = None, intents: Iterable[str] | None = None,
                 poll_seconds: float = 5.0) -> None:
        self.database = database
        self.initial = initial
        self.redis_url = redis_url
        self.flows = None if flows is None else frozenset(flows)
        self.intents = None if intents is None else frozenset(intents)
        self.poll_seconds = poll_seconds
        self._current: ScopeVersion | None = None
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def current(self) -> ScopeVersion:
        """The version this worker obeys."""
        if self._current is None:
            raise StoreError("the scope service was not set up (call setup() first)")
        return self._current

    @property
    def scope(self) -> AutomationScope:
        """The automation scope this worker obeys."""
        return self.current.scope

    async def setup(self) -> None:
        """Create the table, write version 1 from ``guardrails.yml`` when the history is empty, load the latest."""
        await self.database.migrate(SCHEMA)
        if await self._latest() is None:
            with contextlib.suppress(ConcurrentWriteError):  # another worker wrote version 1 first
                await self._insert(1, self.initial, "guardrails.yml", "initial scope", "initial", None)
        await self.refresh()

    async def start(self) -> None:
        """Listen for other workers' changes (with Redis); returns once subscribed."""
        if self.redis_url is None or self._listener is not None:
            return
        import redis.asyncio as redis

        self._redis = redis.from_url(self.redis_url)
        self._listener = asyncio.create_task(self._listen(), name="scope-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), timeout=5.0)

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def refresh(self) -> ScopeVersion:
        """Re-read the latest version; adopt it when newer than ours."""
        latest = await self._latest()
        if latest is not None and (self._current is None or latest.version > self._current.version):
            previous = self._current.version if self._current else None
            self._current = latest
            log.info("scope_applied", version=latest.version, previous=previous, kind=latest.kind,
                     author=latest.author)
        return self.current

    async def update(self, changes: Mapping[str, Any], *, author: str, reason: str, kind: str = "set"
                     ) -> ScopeVersion:
        """Apply a partial change as a new version (see :func:`merge_scope`)."""
        reason = check_reason(reason)
        return await self._write(lambda base: merge_scope(base, changes, flows=self.flows, intents=self.intents),
                                 author, reason, kind, None)

    async def rollback(self, version: int, *, author: str, reason: str) -> ScopeVersion:
        """Restore version ``version``'s scope as a new version."""
        version = check_version(version)
        reason = check_reason(reason)
        target = await self.get(version)
        return await self._write(lambda _base: target.scope, author, reason, "rollback", version)

    async def get(self, version: int) -> ScopeVersion:
        """One version of the history."""
        version = check_version(version)
        row = await self.database.fetchrow("SELECT * FROM careline_scope_versions WHERE version = ?", version)
        if row is None:
            raise UnknownScopeVersion(f"no scope version {version}")
        return ScopeVersion.from_row(row)

    async def history(self, limit: int = 100) -> list[ScopeVersion]:
        """The newest ``limit`` versions, newest first."""
        rows = await self.database.fetch(
            "SELECT * FROM careline_scope_versions ORDER BY version DESC LIMIT ?", limit)
        return [ScopeVersion.from_row(r) for r in rows]

    async def _latest(self) -> ScopeVersion | None:
        row = await self.database.fetchrow("SELECT * FROM careline_scope_versions ORDER BY version DESC LIMIT 1")
        return None if row is None else ScopeVersion.from_row(row)

    async def _write(self, build: Any, author: str, reason: str, kind: str, restored_from: int | None
                     ) -> ScopeVersion:
        for attempt in range(5):
            latest = await self._latest()
            base = latest.scope if latest else self.initial
            scope = build(base)
            try:
                written = await self._insert((latest.version if latest else 0) + 1, scope, author, reason, kind,
                                             restored_from)
            except ConcurrentWriteError:
                log.warning("scope_write_retried", attempt=attempt + 1)
                continue
            self._current = written
            log.info("scope_changed", version=written.version, kind=kind, author=author, reason=reason)
            await self._publish(written.version)
            return written
        raise StoreError("the scope changed concurrently five times in a row; try again")

    async def _insert(self, version: int, scope: AutomationScope, author: str, reason: str, kind: str,
                      restored_from: int | None) -> ScopeVersion:
        row = ScopeVersion(version, scope, author, reason, kind, time.time(), restored_from)
        await self.database.execute(
            "INSERT INTO careline_scope_versions (version, scope, author, reason, kind, restored_from, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            version, json.dumps(scope.model_dump(), sort_keys=True), author, reason, kind, restored_from,
            row.created_at)
        return row

    async def _publish(self, version: int) -> None:
        if self._redis is None:
            return
        import redis.exceptions

        try:
            await self._redis.publish(CHANNEL, str(version))
        except redis.exceptions.RedisError as exc:
            # the change is stored; other workers pick it up at their next poll
            log.warning("scope_publish_failed", error=str(exc), version=version)

    async def _listen(self) -> None:
        import redis.exceptions

        last_poll = time.monotonic()
        while True:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.subscribe(CHANNEL)
                self._subscribed.set()
                while True:
                    message = await pubsub.get_message(ignore_subscribe_messages=True,
                                                       timeout=min(1.0, self.poll_seconds))
                    if message is not None or time.monotonic() - last_poll >= self.poll_seconds:
                        last_poll = time.monotonic()
                        await self.refresh()
            except (redis.exceptions.RedisError, OSError, StoreError) as exc:
                log.warning("scope_listener_reconnecting", error=str(exc))
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(redis.exceptions.RedisError, OSError):
                    await pubsub.aclose()
