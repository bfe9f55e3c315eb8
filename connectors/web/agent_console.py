"""The agent console: one static page (plain HTML/JS/CSS, no build step, no CDN) served at ``/agent/``.

It logs in with a bearer token (kept in the tab's sessionStorage), lists the queue with reasons and
waiting times, shows a conversation's context package and lets the agent chat live (websocket),
add notes, transfer, return to the bot and close. All data comes from :mod:`connectors.web.handoff_api`.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static" / "agent"
#: Headers that forbid framing a console (clickjacking): the CSP directive and its legacy equivalent.
NO_FRAMING = {"X-Frame-Options": "DENY"}
FRAME_ANCESTORS = "frame-ancestors 'none'"


def deny_framing(app: web.Application, prefix: str) -> None:
    """Every response under ``prefix`` (page, static files, errors) forbids being framed: ``X-Frame-Options:
    DENY`` and ``frame-ancestors 'none'`` added to its Content-Security-Policy (or as the whole policy)."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        if request.path != prefix and not request.path.startswith(prefix.rstrip("/") + "/"):
            return
        response.headers.update(NO_FRAMING)
        policy = response.headers.get("Content-Security-Policy", "")
        if "frame-ancestors" not in policy:
            response.headers["Content-Security-Policy"] = f"{policy}; {FRAME_ANCESTORS}" if policy else FRAME_ANCESTORS

    app.on_response_prepare.append(add_headers)


async def index(request: web.Request) -> web.FileResponse:
    response = web.FileResponse(STATIC / "index.html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; frame-ancestors 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/agent/")


def setup_routes(app: web.Application) -> None:
    """Mount ``/agent/`` and its static files (none of them may be framed)."""
    deny_framing(app, "/agent")
    app.router.add_get("/agent", redirect)
    app.router.add_get("/agent/", index)
    app.router.add_static("/agent/static/", STATIC)
