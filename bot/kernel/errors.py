"""Careline's exception tree.

Three families, kept apart on purpose:

    CarelineError
    ├── ConfigError            you configured it wrong; raised at start-up, names file, line and key
    ├── RequestError           a caller sent something we refuse (maps to HTTP 4xx); nothing is stored
    │   ├── MessageTooLong
    │   ├── ConversationClosed
    │   ├── Unauthorized       no or a wrong credential (HTTP 401)
    │   └── RateLimited        too many messages; ``retry_after`` seconds (HTTP 429)
    ├── StoreError             the conversation store failed at run time (translated from aiosqlite/asyncpg)
    │   └── ConcurrentWriteError   another writer appended first; retry the turn
    └── ProviderError          an external provider (LLM, action server, backend) failed
                               `permanent` says whether retrying can help

Vendor exceptions are translated where they enter (``raise ... from exc``) so callers only see these.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class CarelineError(Exception):
    """Base of every error Careline raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong in a project file."""

    path: Path
    line: int | None
    key: str | None
    message: str

    def __str__(self) -> str:
        where = str(self.path)
        if self.line is not None:
            where += f":{self.line}"
        key = f" key '{self.key}':" if self.key else ""
        return f"{where}:{key} {self.message}"


class ConfigError(CarelineError):
    """The project configuration is invalid; every problem names its file, line and key."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"invalid project configuration ({len(problems)} problem(s)):\n{lines}")


class RequestError(CarelineError):
    """A request we refuse; ``status`` is the HTTP status a connector should answer with."""

    status: int = 400


class MessageTooLong(RequestError):
    """The customer's message is longer than the configured cap."""

    status = 413


class ConversationClosed(RequestError):
    """The conversation was closed; start a new one."""

    status = 409


class Unauthorized(RequestError):
    """The request lacks a valid credential for this channel."""

    status = 401


class RateLimited(RequestError):
    """Too many messages from this client or to this conversation; nothing was stored."""

    status = 429

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreError(CarelineError):
    """The conversation store failed; the turn was not recorded and may be retried."""


class ConcurrentWriteError(StoreError):
    """Another writer appended to the conversation first (seen without a shared lock)."""


class ProviderError(CarelineError):
    """An external provider failed. ``permanent`` is False when a retry may succeed."""

    def __init__(self, message: str, *, provider: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.provider = provider
        self.permanent = permanent
