"""A minimal async SQL interface with two implementations: SQLite (default) and PostgreSQL.

SQL is written once with ``?`` placeholders and four type macros (``{id}``, ``{float}``, ``{json}``, ``{blob}``);
each backend rewrites it for its dialect. Driver exceptions are translated to :class:`StoreError`.

URLs: ``sqlite:///path/to/file.db`` (``sqlite:///:memory:`` for tests) and
``postgresql://host:port/db?schema=name`` (``schema`` isolates tests and tenants; it is created).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from bot.kernel.errors import ConcurrentWriteError, StoreError

Row = dict[str, Any]

_MACROS = {
    "sqlite": {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "float": "REAL", "json": "TEXT", "blob": "BLOB"},
    "postgres": {"id": "BIGSERIAL PRIMARY KEY", "float": "DOUBLE PRECISION", "json": "TEXT", "blob": "BYTEA"},
}


class Executor(abc.ABC):
    """Anything that runs SQL: the database itself, or one transaction on it."""

    @abc.abstractmethod
    async def execute(self, sql: str, *args: Any) -> None:
        """Run a statement that returns nothing."""

    @abc.abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """Run a query; rows as dicts."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """First row of a query, or ``None``."""
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """First column of the first row, or ``None``."""
        row = await self.fetchrow(sql, *args)
        return next(iter(row.values())) if row else None


class Database(Executor):
    """A connection pool to one database. Open with :func:`open_database`."""

    dialect: str
    url: str

    def ddl(self, sql: str) -> str:
        """Expand the type macros of a ``CREATE`` statement for this dialect."""
        return sql.format(**_MACROS[self.dialect])

    async def migrate(self, statements: Sequence[str]) -> None:
        """Run idempotent ``CREATE ... IF NOT EXISTS`` statements (with type macros)."""
        async with self.transaction() as tx:
            for statement in statements:
                await tx.execute(self.ddl(statement))

    async def ping(self, within: float = 2.0) -> None:
        """``SELECT 1`` within ``within`` seconds, else :class:`StoreError` (readiness probes)."""
        try:
            async with asyncio.timeout(within):
                await self.fetchval("SELECT 1")
        except TimeoutError as exc:
            raise StoreError(f"the {self.dialect} database did not answer SELECT 1 within {within} s") from exc

    @abc.abstractmethod
    def transaction(self) -> Any:
        """``async with db.transaction() as tx:`` — all or nothing."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections."""


def _translate(exc: BaseException) -> StoreError:
    text = str(exc)
    if "UNIQUE constraint" in text or "duplicate key" in text:
        return ConcurrentWriteError(text)
    return StoreError(f"{type(exc).__name__}: {text}")


class SQLiteDatabase(Database):
    """SQLite through aiosqlite, WAL mode; one connection, writes serialized by a lock."""

    dialect = "sqlite"

    def __init__(self, url: str, path: str) -> None:
        self.url = url
        self.path = path
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        import aiosqlite

        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = await aiosqlite.connect(self.path, isolation_level=None)
            self._conn.row_factory = aiosqlite.Row
            await self._conn.execute("PRAGMA journal_mode=WAL")
            await self._conn.execute("PRAGMA synchronous=NORMAL")
            await self._conn.execute("PRAGMA busy_timeout=5000")
        except Exception as exc:  # aiosqlite/sqlite3 errors of any kind: translate at the boundary
            raise StoreError(f"cannot open SQLite database {self.path!r}: {exc}") from exc

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._lock:
            await self._run(sql, args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._lock:
            return await self._run(sql, args, rows=True)

    async def _run(self, sql: str, args: Sequence[Any], rows: bool = False) -> list[Row]:
        import sqlite3

        if self._conn is None:
            raise StoreError(f"the SQLite database {self.path!r} is closed")
        try:
            cursor = await self._conn.execute(sql, tuple(args))
            result = [dict(r) for r in await cursor.fetchall()] if rows else []
            await cursor.close()
            return result
        except sqlite3.Error as exc:
            raise _translate(exc) from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._lock:
            if self._conn.in_transaction:
                # A task cancelled during BEGIN or COMMIT can leave the connection inside a transaction;
                # we hold the lock, so nothing else has one open: end it before starting ours.
                with contextlib.suppress(StoreError):
                    await self._run("ROLLBACK", ())
            await self._run("BEGIN IMMEDIATE", ())
            tx = _SQLiteTx(self)
            try:
                yield tx
            except BaseException:
                with contextlib.suppress(StoreError):
                    await asyncio.shield(self._run("ROLLBACK", ()))
                raise
            await asyncio.shield(self._run("COMMIT", ()))

    async def close(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


class _SQLiteTx(Executor):
    def __init__(self, db: SQLiteDatabase) -> None:
        self._db = db

    async def execute(self, sql: str, *args: Any) -> None:
        await self._db._run(sql, args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._db._run(sql, args, rows=True)


_PLACEHOLDER = re.compile(r"\?")


def _pg_sql(sql: str) -> str:
    counter = iter(range(1, 10_000))
    return _PLACEHOLDER.sub(lambda _m: f"${next(counter)}", sql)


class PostgresDatabase(Database):
    """PostgreSQL through an asyncpg pool; ``schema`` from the URL becomes the search path.

    Every operation is bounded by ``timeout`` seconds, taking a connection from the pool included: a
    refused, cut or stalled server is a :class:`StoreError` within that bound, never a hung request. A
    transaction that fails or is cancelled before its ``COMMIT`` was answered is rolled back (its connection
    is dropped when even the ``ROLLBACK`` cannot be sent in time, which rolls it back on the server).
    """

    dialect = "postgres"

    def __init__(self, url: str, dsn: str, schema: str | None, *, timeout: float = 5.0) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self.url = url
        self.dsn = dsn
        self.schema = schema
        self.timeout = timeout
        self._pool: Any = None

    async def connect(self) -> None:
        import asyncpg

        settings = {"search_path": self.schema} if self.schema else None
        try:
            if self.schema:
                conn = await asyncpg.connect(self.dsn, timeout=self.timeout)
                try:
                    async with conn.transaction():
                        await conn.execute("SELECT pg_advisory_xact_lock(7260917)")
                        await conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
                finally:
                    await conn.close()
            self._pool = await asyncpg.create_pool(self.dsn, min_size=1, max_size=10, server_settings=settings,
                                                   timeout=self.timeout, command_timeout=self.timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {self.dsn!r}: {exc}") from exc

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection, taken within the timeout; a connection that failed is dropped, not reused."""
        import asyncpg

        if self._pool is None:
            raise StoreError("the PostgreSQL pool is closed")
        try:
            conn = await self._pool.acquire(timeout=self.timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _pg_error(exc, "no PostgreSQL connection") from exc
        healthy = False
        try:
            yield conn
            healthy = True
        except StoreError as exc:
            healthy = not isinstance(exc.__cause__, OSError | TimeoutError | asyncpg.InterfaceError)
            raise
        finally:
            if not healthy and not conn.is_closed():
                conn.terminate()
            with contextlib.suppress(OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._pool.release(conn, timeout=self.timeout)

    async def execute(self, sql: str, *args: Any) -> None:
        async with self._connection() as conn:
            await _PgTx(conn, self.timeout).execute(sql, *args)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        async with self._connection() as conn:
            return await _PgTx(conn, self.timeout).fetch(sql, *args)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Executor]:
        async with self._connection() as conn:
            tx = _PgTx(conn, self.timeout)
            await tx.execute("BEGIN")
            try:
                yield tx
            except BaseException:
                if not conn.is_closed():
                    try:
                        await tx.execute("ROLLBACK")
                    except (StoreError, asyncio.CancelledError):
                        conn.terminate()  # the server rolls back a transaction whose connection is gone
                raise
            commit = asyncio.ensure_future(tx.execute("COMMIT"))
            try:
                await asyncio.shield(commit)
            except asyncio.CancelledError:
                # the COMMIT may already be on the server: let it finish (within the operation timeout) so a
                # cancelled caller's write is either stored or not before anyone reads, never committed later
                with contextlib.suppress(StoreError, asyncio.CancelledError):
                    await commit
                raise

    async def migrate(self, statements: Sequence[str]) -> None:
        """Like :meth:`Database.migrate`, serialized across workers by an advisory lock (concurrent
        ``CREATE ... IF NOT EXISTS`` can collide in PostgreSQL's catalog)."""
        async with self.transaction() as tx:
            await tx.execute("SELECT pg_advisory_xact_lock(7260917)")
            for statement in statements:
                await tx.execute(self.ddl(statement))

    async def drop_schema(self) -> None:
        """Drop this database's schema with everything in it (tests)."""
        if self.schema:
            await self.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    async def close(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=self.timeout)
            except TimeoutError:
                pool.terminate()


def _pg_error(exc: BaseException, doing: str) -> StoreError:
    """A driver, socket or timeout failure as :class:`StoreError` (constraint violations as conflicts)."""
    if isinstance(exc, TimeoutError):
        return StoreError(f"{doing}: PostgreSQL did not answer in time")
    if isinstance(exc, OSError):
        return StoreError(f"{doing}: {type(exc).__name__}: {exc}")
    return _translate(exc)


class _PgTx(Executor):
    def __init__(self, conn: Any, timeout: float) -> None:
        self._conn = conn
        self._timeout = timeout

    async def execute(self, sql: str, *args: Any) -> None:
        import asyncpg

        try:
            await self._conn.execute(_pg_sql(sql), *args, timeout=self._timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _pg_error(exc, "PostgreSQL statement failed") from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        import asyncpg

        try:
            return [dict(r) for r in await self._conn.fetch(_pg_sql(sql), *args, timeout=self._timeout)]
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise _pg_error(exc, "PostgreSQL query failed") from exc


async def open_database(url: str, *, operation_timeout: float = 5.0) -> Database:
    """Connect to the database at ``url`` (see module docstring for the forms); every PostgreSQL operation
    is bounded by ``operation_timeout`` seconds (SQLite waits up to 5 s for a busy file)."""
    parts = urlsplit(url)
    db: SQLiteDatabase | PostgresDatabase
    if parts.scheme == "sqlite":
        path = url.removeprefix("sqlite:///") or ":memory:"
        db = SQLiteDatabase(url, path)
    elif parts.scheme in ("postgres", "postgresql"):
        query = parse_qs(parts.query)
        schema = query.pop("schema", [None])[0]
        if schema is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
            raise StoreError(f"invalid schema name {schema!r} in database URL")
        rest = "&".join(f"{k}={v[0]}" for k, v in query.items())
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, rest, ""))
        db = PostgresDatabase(url, dsn, schema, timeout=operation_timeout)
    else:
        raise StoreError(f"unsupported database URL {url!r}: use sqlite:///PATH or postgresql://HOST/DB")
    await db.connect()
    return db
