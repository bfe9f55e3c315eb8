"""Bearer tokens and roles for the web APIs: ``agent`` (handoff queue and conversations), ``ops``
(scope and KPIs), ``admin`` (everything, including the tracker)."""

from __future__ import annotations

from aiohttp import web

from bot.settings import Principal, Settings


def _bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise web.HTTPUnauthorized(
            text='{"error": "missing bearer token"}', content_type="application/json",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return value.strip()


def require_role(request: web.Request, settings: Settings, role: str) -> Principal:
    """The caller's principal; 401 without a token or with an unknown one, 403 without ``role``."""
    principal = settings.principal(_bearer(request))
    if principal is None:
        raise web.HTTPUnauthorized(text='{"error": "unknown token"}', content_type="application/json",
                                   headers={"WWW-Authenticate": "Bearer"})
    if not principal.may(role):
        raise web.HTTPForbidden(text=f'{{"error": "the {role} role is required"}}', content_type="application/json")
    return principal
