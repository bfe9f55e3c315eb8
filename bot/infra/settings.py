"""Deployment settings, read once from the environment at the entry point."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.infra import environment

DEMO_PROJECT = Path(__file__).parents[1] / "demo" / "project"
ROLES = ("agent", "ops", "admin")


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone holding a bearer token: ``role`` is agent, ops or admin (admin may do everything)."""

    name: str
    role: str
    token: str

    def may(self, role: str) -> bool:
        """True when this principal acts with ``role``."""
        return self.role == role or self.role == "admin"


def parse_tokens(spec: str) -> tuple[Principal, ...]:
    """``"amy:agent:TOKEN,olga:ops:TOKEN"`` → principals; raises ``ValueError`` naming a bad entry."""
    out = []
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        parts = entry.split(":", 2)
        if len(parts) != 3 or parts[1] not in ROLES or not parts[0] or len(parts[2]) < 8:
            raise ValueError(f"CARELINE_TOKENS entry {entry.split(':')[0]!r}: expected name:role:token with role "
                             f"in {ROLES} and a token of 8+ characters")
        out.append(Principal(parts[0], parts[1], parts[2]))
    return tuple(out)


def demo_tokens() -> tuple[Principal, ...]:
    """One random agent token and one random ops token (printed by ``careline serve``)."""
    return (Principal("demo-agent", "agent", secrets.token_urlsafe(18)),
            Principal("demo-ops", "ops", secrets.token_urlsafe(18)))


@dataclass(frozen=True, slots=True)
class Settings:
    """How this process runs (the project decides what the bot does)."""

    project: Path = DEMO_PROJECT
    """Project directory (``CARELINE_PROJECT``); default: the bundled demo."""
    database_url: str | None = None
    """``CARELINE_DATABASE_URL``: ``sqlite:///PATH`` or ``postgresql://...``; default: SQLite in the cache dir."""
    redis_url: str | None = None
    """``CARELINE_REDIS_URL``: shared locks and event fan-out for several workers; unset: in-process."""
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    """``CARELINE_ADMIN_TOKEN``: bearer token for the tracker and admin APIs; random when unset."""
    admin_token_generated: bool = True
    """True when :attr:`admin_token` was generated (the server prints it at start)."""
    log_json: bool = False
    """``CARELINE_LOG_JSON=1``: JSON log lines (production) instead of the console format."""
    log_level: str = "info"
    """``CARELINE_LOG_LEVEL``."""
    max_body_bytes: int = 64 * 1024
    """``CARELINE_MAX_BODY_BYTES``: larger request bodies get HTTP 413."""
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """``CARELINE_SECRET``: key for the signatures and pseudonyms every worker must agree on (voice stream
    tokens, client-source hashes). Random per process when unset; set it when running several workers."""
    secret_generated: bool = True
    """True when :attr:`secret` was generated."""
    rest_token: str | None = None
    """``CARELINE_REST_TOKEN``: when set, the REST channel requires ``Authorization: Bearer <token>``."""
    tokens: tuple[Principal, ...] = ()
    """``CARELINE_TOKENS``: ``name:role:token`` entries, comma-separated (roles: agent, ops, admin).
    Unset: one demo agent and one demo ops token are generated and printed at start."""
    tokens_generated: bool = True
    """True when :attr:`tokens` were generated (the server prints them at start)."""

    def client_key(self, source: str) -> str:
        """A pseudonym for a client source: a keyed hash every worker with the same secret agrees on."""
        return hmac.new(self.secret, source.encode("utf-8", "surrogatepass"), "sha256").hexdigest()[:20]

    def principal(self, token: str) -> Principal | None:
        """Who holds ``token`` (the admin token is the ``admin`` principal), or ``None``."""
        if hmac.compare_digest(token.encode(), self.admin_token.encode()):
            return Principal("admin", "admin", token)
        for principal in self.tokens:
            if hmac.compare_digest(token.encode(), principal.token.encode()):
                return principal
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from ``env`` (default: the process environment, :func:`bot.infra.environment.variables`); keyword
        overrides win (CLI flags)."""
        env = environment.variables() if env is None else env
        values: dict[str, object] = {}
        if "CARELINE_PROJECT" in env:
            values["project"] = Path(env["CARELINE_PROJECT"])
        if "CARELINE_DATABASE_URL" in env:
            values["database_url"] = env["CARELINE_DATABASE_URL"]
        if "CARELINE_REDIS_URL" in env:
            values["redis_url"] = env["CARELINE_REDIS_URL"] or None
        if env.get("CARELINE_ADMIN_TOKEN"):
            values["admin_token"] = env["CARELINE_ADMIN_TOKEN"]
            values["admin_token_generated"] = False
        if "CARELINE_LOG_JSON" in env:
            values["log_json"] = env["CARELINE_LOG_JSON"].lower() in ("1", "true", "yes")
        if "CARELINE_LOG_LEVEL" in env:
            values["log_level"] = env["CARELINE_LOG_LEVEL"]
        if env.get("CARELINE_SECRET"):
            if len(env["CARELINE_SECRET"]) < 16:
                raise ValueError("CARELINE_SECRET must be at least 16 characters")
            values["secret"] = env["CARELINE_SECRET"].encode()
            values["secret_generated"] = False
        if env.get("CARELINE_REST_TOKEN"):
            if len(env["CARELINE_REST_TOKEN"]) < 16:
                raise ValueError("CARELINE_REST_TOKEN must be at least 16 characters")
            values["rest_token"] = env["CARELINE_REST_TOKEN"]
        values["tokens"] = parse_tokens(env["CARELINE_TOKENS"]) if env.get("CARELINE_TOKENS") else demo_tokens()
        values["tokens_generated"] = not env.get("CARELINE_TOKENS")
        if "CARELINE_MAX_BODY_BYTES" in env:
            values["max_body_bytes"] = int(env["CARELINE_MAX_BODY_BYTES"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
