"""``careline serve``: the web connector's command (widget, REST channel, APIs, consoles and the phone routes).

:func:`open_rest_refusal` and :func:`start_up_lines` are what ``serve`` checks and prints before it starts.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bot.app.cli import load_or_exit, project_option
from bot.infra.settings import DEMO_PROJECT, Settings
from bot.kernel.errors import ConfigError


def is_bundled_demo(project: Path) -> bool:
    """True when ``project`` is the demo shipped inside the package."""
    return project.resolve() == DEMO_PROJECT.resolve()


def open_rest_refusal(settings: Settings, project: Any) -> str | None:
    """Why ``careline serve`` must not start: the REST channel would be open to anyone (no
    ``CARELINE_REST_TOKEN``) and the project did not ask for that; ``None`` when it may start."""
    if settings.rest_token is not None or project.config.channels.rest.open or is_bundled_demo(settings.project):
        return None
    return (f"error: the REST channel of {settings.project} would be open to anyone (any caller could talk as "
            "any sender): set CARELINE_REST_TOKEN, or set `channels: {rest: {open: true}}` in config.yml")


def start_up_lines(settings: Settings, base: str) -> list[str]:
    """What ``careline serve`` prints: where everything is, and the tokens it generated (never one the
    operator set through ``CARELINE_ADMIN_TOKEN`` or ``CARELINE_TOKENS``)."""
    lines = [f"  {label + ':':<16}{where}" for label, where in (
        ("web widget", f"{base}/"), ("agent console", f"{base}/agent/"), ("ops console", f"{base}/ops"),
        ("REST channel", f"POST {base}/webhooks/rest/webhook"), ("voice (Twilio)", f"POST {base}/voice/twiml"),
        ("health", f"{base}/health"),
    )]
    if settings.admin_token_generated:
        lines.append(f"  {'admin token:':<16}{settings.admin_token}  (set CARELINE_ADMIN_TOKEN to choose one)")
    if settings.tokens_generated:
        lines += [f"  {p.role + ' token:':<16}{p.token}  ({p.name}; set CARELINE_TOKENS to choose them)"
                  for p in settings.tokens]
    return lines


@click.command()
@project_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--database", "database_url", default=None, help="sqlite:///PATH or postgresql://... (default: SQLite).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Server processes on the port (more than 1 needs CARELINE_REDIS_URL and a shared database).")
@click.option("--reuse-port", is_flag=True, hidden=True, help="Share the port with other workers (set by --workers).")
def serve(project: Path | None, host: str, port: int, database_url: str | None, workers: int,
          reuse_port: bool) -> None:
    """Serve the web app (widget, REST channel, APIs) for a project."""
    from aiohttp import web

    from bot.app.runtime import build_runtime
    from bot.infra.logs import configure_logging, get_logger
    from connectors.web.app import create_app

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(json=settings.log_json, level=settings.log_level)
    loaded = load_or_exit(settings.project)
    refusal = open_rest_refusal(settings, loaded)
    if refusal:
        click.echo(refusal, err=True)
        sys.exit(1)
    if settings.rest_token is None:
        get_logger("connectors.web.cli").warning(
            "rest_channel_open", demo=is_bundled_demo(settings.project),
            detail="no CARELINE_REST_TOKEN: anyone who can reach the server can talk as any sender")

    if workers > 1 and not settings.redis_url:
        click.echo(f"error: --workers {workers} needs CARELINE_REDIS_URL: the workers share the conversations' locks "
                   "and live updates through Redis (and should share a PostgreSQL database: --database)", err=True)
        sys.exit(1)

    async def make_app() -> web.Application:
        runtime = await build_runtime(settings, loaded)
        return create_app(runtime)

    base = f"http://{host}:{port}"
    if not reuse_port:
        click.echo(f"Careline serving {loaded.config.assistant_id} on {base}"
                   + (f" with {workers} workers" if workers > 1 else ""))
        for line in start_up_lines(settings, base):
            click.echo(line)
    if workers > 1:
        from connectors.web.workers import Supervisor, shared_environment, worker_command

        argv = ["--project", str(settings.project), "--host", host, "--port", str(port),
                *(["--database", database_url] if database_url else [])]
        env = shared_environment(settings, secret=None if settings.secret_generated else settings.secret.decode())
        sys.exit(Supervisor(worker_command(argv), workers, env, f"{base}/health").run())
    try:
        web.run_app(make_app(), host=host, port=port, print=None, reuse_port=reuse_port or None)
    except ConfigError as exc:  # found while starting (e.g. an unset backend.token_env variable)
        click.echo(str(exc), err=True)
        sys.exit(1)


