"""Bearer tokens and roles for the web APIs: ``agent`` (handoff queue and conversations), ``ops``
(scope and KPIs), ``admin`` (everything, including the tracker); and the REST channel's own token."""

from __future__ import annotations

import hmac

from aiohttp import web

from bot.infra.settings import Principal, Settings
from bot.kernel.errors import Unauthorized


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


def require_rest_token(request: web.Request, settings: Settings) -> bool:
    """True when the caller presented ``CARELINE_REST_TOKEN``; False when none is configured (an open
    channel); :class:`~bot.kernel.errors.Unauthorized` (401) when one is configured and missing or wrong."""
    if settings.rest_token is None:
        return False
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthorized("the REST channel requires 'Authorization: Bearer <CARELINE_REST_TOKEN>'")
    if not hmac.compare_digest(value.strip().encode("utf-8", "replace"), settings.rest_token.encode()):
        raise Unauthorized("unknown REST channel token")
    return True
