"""The ``careline`` command line: serve, chat, validate, demo data (and sub-commands of other packages)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from bot.errors import ConfigError
from bot.settings import DEMO_PROJECT, Settings


def _offline() -> None:
    """No network at run time: every model loads from a local path."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _load(project: Path) -> Any:
    from bot.project import load_project

    try:
        return load_project(project)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


@click.group()
@click.version_option(package_name="careline")
def main() -> None:
    """Careline: customer-service chatbots and voicebots with human handoff."""
    _offline()


project_option = click.option(
    "--project", "project", type=click.Path(path_type=Path), default=None,
    help="Project directory (default: the bundled Northwind demo).",
)


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


def start_up_lines(settings: Settings, base: str, *, tokens_generated: bool) -> list[str]:
    """What ``careline serve`` prints: where everything is, and the tokens it generated (never one the
    operator set through ``CARELINE_ADMIN_TOKEN`` or ``CARELINE_TOKENS``)."""
    lines = [f"  {label + ':':<16}{where}" for label, where in (
        ("web widget", f"{base}/"), ("agent console", f"{base}/agent/"), ("ops console", f"{base}/ops"),
        ("REST channel", f"POST {base}/webhooks/rest/webhook"), ("voice (Twilio)", f"POST {base}/voice/twiml"),
        ("health", f"{base}/health"),
    )]
    if settings.admin_token_generated:
        lines.append(f"  {'admin token:':<16}{settings.admin_token}  (set CARELINE_ADMIN_TOKEN to choose one)")
    if tokens_generated:
        lines += [f"  {p.role + ' token:':<16}{p.token}  ({p.name}; set CARELINE_TOKENS to choose them)"
                  for p in settings.tokens]
    return lines


@main.command()
@project_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--database", "database_url", default=None, help="sqlite:///PATH or postgresql://... (default: SQLite).")
def serve(project: Path | None, host: str, port: int, database_url: str | None) -> None:
    """Serve the web app (widget, REST channel, APIs) for a project."""
    from aiohttp import web

    from bot.logs import configure_logging, get_logger
    from bot.runtime import build_runtime
    from connectors.web import create_app

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(json=settings.log_json, level=settings.log_level)
    loaded = _load(settings.project)
    refusal = open_rest_refusal(settings, loaded)
    if refusal:
        click.echo(refusal, err=True)
        sys.exit(1)
    if settings.rest_token is None:
        get_logger("bot.cli").warning(
            "rest_channel_open", demo=is_bundled_demo(settings.project),
            detail="no CARELINE_REST_TOKEN: anyone who can reach the server can talk as any sender")

    async def make_app() -> web.Application:
        runtime = await build_runtime(settings, loaded)
        return create_app(runtime)

    base = f"http://{host}:{port}"
    click.echo(f"Careline serving {loaded.config.assistant_id} on {base}")
    for line in start_up_lines(settings, base, tokens_generated=not os.environ.get("CARELINE_TOKENS")):
        click.echo(line)
    try:
        web.run_app(make_app(), host=host, port=port, print=None)
    except ConfigError as exc:  # found while starting (e.g. an unset backend.token_env variable)
        click.echo(str(exc), err=True)
        sys.exit(1)


@main.command()
@project_option
@click.option("--debug", is_flag=True, help="Show intent, confidence, slots and the active flow after each turn.")
@click.option("--sender", default="terminal", show_default=True, help="Conversation id.")
@click.option("--database", "database_url", default="sqlite:///:memory:", show_default=True)
def chat(project: Path | None, debug: bool, sender: str, database_url: str) -> None:
    """Chat with the bot in the terminal (empty line or Ctrl-D ends)."""
    from bot.logs import configure_logging

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(level="warning")
    loaded = _load(settings.project)
    try:
        asyncio.run(_chat(settings, loaded, sender, debug))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


async def _chat(settings: Settings, project: Any, sender: str, debug: bool) -> None:
    from bot.errors import RequestError
    from bot.messages import UserMessage
    from bot.runtime import build_runtime

    runtime = await build_runtime(settings, project)
    interactive = sys.stdin.isatty()
    try:
        while True:
            if interactive:
                click.echo("you> ", nl=False)
            line = await asyncio.to_thread(sys.stdin.readline)
            if not line.strip():
                break
            try:
                replies = await runtime.engine.handle(sender, UserMessage(line.rstrip("\n"), "cli"))
            except RequestError as exc:
                click.echo(f"error: {exc}", err=True)
                continue
            for reply in replies:
                click.echo(f"bot> {reply.text}")
                for index, button in enumerate(reply.buttons, 1):
                    click.echo(f"     [{index}] {button.title}  ({button.payload})")
            if debug:
                state = await runtime.engine.state(sender)
                latest = state.latest_user
                intent = f"{latest.intent} ({latest.confidence:.2f})" if latest else "-"
                click.echo(f"     · intent={intent} flow={state.active_flow} status={state.status} "
                           f"slots={json.dumps(state.slots, default=str)}")
    finally:
        await runtime.close()


@main.command()
@click.argument("project", type=click.Path(path_type=Path))
def validate(project: Path) -> None:
    """Check a project directory; print every problem with file, line and key."""
    loaded = _load(project)
    click.echo(
        f"ok: {project} — {len(loaded.flows)} flows, {len(loaded.nlu.intents)} intents, "
        f"{len(loaded.nlu.examples)} examples, {len(loaded.domain.responses)} responses, "
        f"{len(loaded.domain.slots)} slots"
    )


@main.group()
def demo() -> None:
    """The bundled demo (Northwind Living and Northwind Clinic)."""


@demo.command("seed")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def demo_seed(as_json: bool) -> None:
    """Print the demo backend's customers, orders and appointments."""
    data = json.loads((DEMO_PROJECT.parent / "seed.json").read_text())
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    for kind in ("customers", "orders", "appointments"):
        click.echo(f"{kind}: " + ", ".join(item["id"] for item in data[kind]))


from evals.cli import EvalGroup  # noqa: E402 - the eval group's class; its commands import lazily


@main.group(name="eval", cls=EvalGroup)
def eval_() -> None:
    """Evaluate: conversation test suites (careline eval PATH...) and datasets (nlu, kb, guard)."""


def _mount_optional() -> None:
    """Sub-commands contributed by other packages (present once they are built)."""
    import importlib
    import importlib.util

    for module, attr, group, name in (
        ("bot.knowledge.cli", "kb", main, "kb"),
        ("bot.knowledge.cli", "eval_kb", eval_, "kb"),
        ("bot.nlu.cli", "eval_nlu", eval_, "nlu"),
        ("bot.guardrails.cli", "scope", main, "scope"),
        ("bot.guardrails.cli", "eval_guard", eval_, "guard"),
        ("bot.handoff.cli", "handoff", main, "handoff"),
        ("connectors.voice.cli", "call", main, "call"),
        ("bot.analytics.cli", "report", main, "report"),
    ):
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:
            continue
        command = getattr(importlib.import_module(module), attr, None)
        if command is not None:
            group.add_command(command, name=name)


_mount_optional()
