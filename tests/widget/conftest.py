"""Fixtures for the widget tests: the demo bot with CSAT on served on a free port, and Debian's headless Chromium."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from bot.app.runtime import Runtime, build_runtime
from bot.infra.embeddings import Embedder
from bot.infra.settings import Settings
from bot.project import Project
from bot.testing.server import serve_app
from connectors.web import create_app
from connectors.web.widget_config import WidgetConfig
from tests.conftest import TEST_TOKENS

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
AGENT = {"Authorization": "Bearer agent-token-123"}
#: The widget settings the browser tests check for (title and colour show on the page). The journey types
#: faster than a person: its 7 messages in a few seconds need a burst above the default 5 (a reload no longer
#: refills the budget).
WIDGET = WidgetConfig(title="Northwind help", brand_color="#0b6e4f", burst=10)


@dataclass(frozen=True)
class Site:
    """The web app of one test: base URL, the aiohttp app and its runtime."""

    url: str
    app: web.Application
    runtime: Runtime


SiteFactory = Callable[..., AbstractAsyncContextManager[Site]]


@pytest.fixture
def make_site(demo_project: Project, embedder: Embedder, tmp_path: Path) -> SiteFactory:
    """Serve the demo project (CSAT on) with the given widget settings and ``limits`` overrides:
    ``async with make_site(widget=..., limits=...)``."""

    @asynccontextmanager
    async def serve(widget: WidgetConfig = WIDGET, limits: dict[str, int] | None = None) -> AsyncIterator[Site]:
        config = demo_project.config.model_copy(update={
            "widget": widget, "handoff": demo_project.config.handoff.model_copy(update={"csat": True}),
            "limits": demo_project.config.limits.model_copy(update=limits or {})})
        project = dataclasses.replace(demo_project, config=config)
        settings = Settings(database_url=f"sqlite:///{tmp_path / 'widget.db'}", admin_token="test-admin-token",
                            admin_token_generated=False, tokens=TEST_TOKENS)
        runtime = await build_runtime(settings, project, embedder=embedder)
        app = create_app(runtime)  # the app's cleanup closes the runtime
        async with serve_app(app) as url:
            yield Site(url, app, runtime)

    return serve


@pytest.fixture
async def site(make_site: SiteFactory) -> AsyncIterator[Site]:
    """The demo shop with the widget, on a free port."""
    async with make_site() as served:
        yield served


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if shutil.which(CHROMIUM) is None:
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


_PAGE_ERRORS: dict[Page, list[str]] = {}


def page_errors(page: Page) -> list[str]:
    """The JavaScript errors ``page`` (from the :func:`page` fixture) has raised so far."""
    return _PAGE_ERRORS[page]


@pytest.fixture
async def page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    """A fresh browser page (own storage) with page errors collected (:func:`page_errors`)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    opened = await context.new_page()
    errors = _PAGE_ERRORS[opened] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    del _PAGE_ERRORS[opened]
    await context.close()


async def conversation_id(page: Page) -> str:
    """The widget's conversation id, as kept in the browser's storage."""
    value = await page.evaluate(
        "() => Object.entries(localStorage).find(([k]) => k.endsWith(':conversation'))?.[1]")
    assert value, "the widget stored no conversation id"
    return str(value).strip('"')
