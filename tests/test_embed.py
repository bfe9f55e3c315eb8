"""The README's "Embed Careline" snippet runs as written, and ``bot`` exports what it needs without a heavy import."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import bot
from bot.testing.server import serve_app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def embed_snippet() -> str:
    """The first Python block under the README's "## Embed Careline" heading."""
    found = re.search(r"^## Embed Careline\n.*?```python\n(.*?)```", README, re.S | re.M)
    assert found is not None, "README.md has no '## Embed Careline' section with a python block"
    return found.group(1)


async def test_the_readme_embed_snippet_answers_and_serves_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    """Run exactly the README's snippet: make_app() answers "hello" in process, and the app it returns serves it."""
    namespace: dict[str, Any] = {"__name__": "readme_embed"}  # not __main__: the test serves the app itself
    exec(compile(embed_snippet(), "README.md#embed-careline", "exec"), namespace)
    make_app: Callable[[], Awaitable[web.Application]] = namespace["make_app"]
    app = await make_app()
    printed = capsys.readouterr().out
    # structlog (not configured by the snippet) prints its lines to stdout too: the reply is the line that greets
    greeting = next((line for line in printed.splitlines() if line.startswith("Hi! I'm the Northwind")), None)
    assert greeting is not None, printed
    async with serve_app(app) as url, aiohttp.ClientSession() as http, http.post(
            url + "/webhooks/rest/webhook", json={"sender": "web-1", "message": "hello"}) as resp:
        assert resp.status == 200
        reply = await resp.json()
    assert reply[0]["recipient_id"] == "web-1" and reply[0]["text"] == greeting


def test_bot_exports_every_public_name() -> None:
    """Each name in ``bot.__all__`` resolves to the object its defining module holds."""
    from bot.app.runtime import build_runtime
    from bot.infra.settings import Settings

    assert bot.build_runtime is build_runtime and bot.Settings is Settings
    for name in bot.__all__:
        assert getattr(bot, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = getattr(bot, "nope")  # noqa: B009 (a name bot does not export, looked up as a user would)


def test_import_bot_loads_no_runtime() -> None:
    """``import bot`` imports none of the engine, the models or the store (the names load on first use)."""
    probe = ("import sys, bot; heavy = [m for m in ('bot.app.runtime', 'bot.pipeline.engine', 'numpy', 'pydantic', "
             "'structlog') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
