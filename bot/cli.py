"""The core's commands: ``chat``, ``validate``, ``demo``, and the core packages' groups (``kb``, ``scope``,
``handoff``, ``report``).

:data:`main` is the core alone (``python -m bot``): it imports no connector and no eval. The ``careline``
command is composed outside the core, in :mod:`careline.cli`, which adds the connectors' commands
(``serve``, ``call``) and ``eval``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from bot import environment
from bot.analytics.cli import report
from bot.errors import ConfigError
from bot.guardrails.cli import scope
from bot.handoff.cli import handoff
from bot.knowledge.cli import kb
from bot.settings import DEMO_PROJECT, Settings


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (click's test runner swaps it per invocation)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def offline() -> None:
    """The set-up every command shares: models load from local paths only, without progress bars
    (:func:`bot.environment.use_local_models`), and log lines go to standard error, so standard output
    carries only a command's result (``careline eval kb --json | jq`` works). A command that configures
    logging itself (``serve``, ``chat``) still does; logging configured before the command is kept."""
    import structlog

    from bot.logs import configure_logging

    environment.use_local_models()
    if not structlog.is_configured():
        configure_logging(level="info", stream=_Stderr())


def load_or_exit(project: Path) -> Any:
    """The project at ``project``, or exit 1 after printing its problems (file, line, key)."""
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
    offline()


project_option = click.option(
    "--project", "project", type=click.Path(path_type=Path), default=None,
    help="Project directory (default: the bundled Northwind demo).",
)


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
    loaded = load_or_exit(settings.project)
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
    loaded = load_or_exit(project)
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


for _command in (kb, scope, handoff, report):
    main.add_command(_command)
