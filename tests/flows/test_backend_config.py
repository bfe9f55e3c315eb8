"""``backend:`` in config.yml: the demo backend by default, a real system over HTTP when configured."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from ruamel.yaml import YAML

from bot.flows.backend import DemoBackend, HttpBackend
from bot.flows.backend.server import Handler, create_backend_app
from bot.flows.setup import make_backend
from bot.infra.settings import DEMO_PROJECT
from bot.kernel.errors import ConfigError
from bot.nlu.understander import Understander
from bot.project import Project, load_project
from bot.project.schema import ProjectConfig
from bot.testing.server import serve_app
from tests.flows.conftest import Bot, flow_runner, make_runtime

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = "backend-secret-token"


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A writable copy of the demo project (without knowledge documents)."""
    target = tmp_path / "project"
    shutil.copytree(DEMO_PROJECT, target, ignore=shutil.ignore_patterns(".careline", "knowledge"))
    return target


def with_backend(project_dir: Path, block: str) -> Path:
    """Append a ``backend:`` block to the project's config.yml; returns the file."""
    config = project_dir / "config.yml"
    config.write_text(config.read_text() + block)
    return config


class BusinessSystem:
    """The demo data served over the HttpBackend protocol, refusing calls without the bearer token."""

    def __init__(self) -> None:
        self.data = DemoBackend.from_seed_file()
        self.calls: list[str] = []

    def app(self) -> web.Application:
        @web.middleware
        async def bearer(request: web.Request, handler: Handler) -> web.StreamResponse:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise web.HTTPUnauthorized()
            self.calls.append(f"{request.method} {request.path}")
            return await handler(request)

        app = create_backend_app(self.data)
        app.middlewares.insert(0, bearer)
        return app


@pytest.fixture
async def system() -> AsyncIterator[tuple[BusinessSystem, str]]:
    """The business system on a free port, and its URL."""
    served = BusinessSystem()
    async with serve_app(served.app()) as url:
        yield served, url


async def test_order_status_runs_against_the_http_backend_the_config_selects(
        project_dir: Path, system: tuple[BusinessSystem, str], understander: Understander, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Over the REST channel, verification and the order status come from the configured HTTP system."""
    from connectors.web import create_app

    served, url = system
    monkeypatch.setenv("NORTHWIND_BACKEND_TOKEN", TOKEN)
    with_backend(project_dir, f"backend:\n  type: http\n  url: {url}\n  token_env: NORTHWIND_BACKEND_TOKEN\n"
                              "  timeout: 2\n")
    runtime = await make_runtime(load_project(project_dir), understander, tmp_path)
    backend = flow_runner(runtime).backend
    assert backend is not None
    try:
        async with serve_app(create_app(runtime)) as bot_url, aiohttp.ClientSession() as session:
            bot = Bot(bot_url, runtime, session)
            await bot.say("where is my order")
            await bot.say("ada@example.com")
            assert "you're verified" in await bot.text("10 December 1985")
            replies = await bot.say("A1001")
    finally:
        await backend.close()
        await runtime.close()
    assert isinstance(backend, HttpBackend)
    status = next(r for r in replies if "A1001" in r["text"])
    assert "on its way" in status["text"] and status["custom"] == {"account_data": True}
    assert served.calls == ["GET /customers/lookup", "POST /customers/C001/verify", "GET /customers/C001/orders",
                            "GET /orders/A1001"]


def test_the_demo_backend_is_the_default(demo_project: Project) -> None:
    """Without a ``backend:`` section the flows use the seeded demo backend."""
    assert demo_project.config.backend.type == "demo"
    assert isinstance(make_backend(demo_project), DemoBackend)


def test_an_unset_token_variable_stops_the_start_up(project_dir: Path) -> None:
    """A ``token_env`` naming a variable that is not set is a configuration error naming the key."""
    config = with_backend(project_dir, "backend:\n  type: http\n  url: http://127.0.0.1:9\n  token_env: NO_SUCH_VAR\n")
    with pytest.raises(ConfigError) as info:
        make_backend(load_project(project_dir), environ={})
    assert [str(p) for p in info.value.problems] == [
        f"{config}: key 'backend.token_env': environment variable NO_SUCH_VAR is not set"]


@pytest.mark.parametrize(("block", "key", "message"), [
    ("backend:\n  type: http\n", "backend.url", "required when type is http"),
    ("backend:\n  type: sap\n  url: http://x\n", "backend.type", "Input should be 'demo' or 'http'"),
    ("backend:\n  url: http://x\n", "backend.url", "only used with type: http"),
    ("backend:\n  type: http\n  url: ftp://x\n", "backend.url", "must start with http:// or https://"),
    ("backend:\n  type: http\n  url: http://x\n  timeout: 0\n", "backend.timeout", "Input should be greater than 0"),
    ("backend:\n  type: http\n  url: http://x\n  tokn_env: X\n", "backend.tokn_env", "unknown key"),
], ids=["http-without-url", "unknown-type", "url-for-demo", "not-http-url", "zero-timeout", "misspelt-key"])
def test_backend_mistakes_name_file_line_and_key(project_dir: Path, block: str, key: str, message: str) -> None:
    """Every mistake in ``backend:`` is reported at load as ``path:line: key '...': what is wrong``."""
    config = with_backend(project_dir, block)
    with pytest.raises(ConfigError) as info:
        load_project(project_dir)
    [problem] = [str(p) for p in info.value.problems]
    lines = config.read_text().splitlines()
    leaf = key.rsplit(".", 1)[-1]
    line = next((i for i, text in enumerate(lines, 1) if text.strip().startswith(f"{leaf}:")),
                next(i for i, text in enumerate(lines, 1) if text.startswith("backend:")))
    assert problem == f"{config}:{line}: key '{key}': {message}"


def test_the_readme_configuration_example_is_valid() -> None:
    """The README's config.yml example selects the HTTP backend with a token variable."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), re.S)
    [example] = [b for b in blocks if "backend:" in b]
    backend = ProjectConfig.model_validate(YAML(typ="safe").load(example)).backend
    assert (backend.type, backend.token_env) == ("http", "CARELINE_BACKEND_TOKEN") and backend.url
