"""The agent console: one static page (plain HTML/JS/CSS, no build step, no CDN) served at ``/agent/``.

It logs in with a bearer token (kept in the tab's sessionStorage), lists the queue with reasons and
waiting times, shows a conversation's context package and lets the agent chat live (websocket),
add notes, transfer, return to the bot and close. All data comes from :mod:`connectors.web.handoff_api`.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static" / "agent"


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
    """Mount ``/agent/`` and its static files."""
    app.router.add_get("/agent", redirect)
    app.router.add_get("/agent/", index)
    app.router.add_static("/agent/static/", STATIC)
