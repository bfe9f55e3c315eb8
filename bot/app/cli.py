"""The core's commands: ``chat``, ``validate``, ``demo``, and the core packages' groups (``kb``, ``scope``,
``handoff``, ``report``, ``qa``, ``customer``).

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

from bot.analytics.cli import report
from bot.customers.cli import customer
from bot.handoff.cli import handoff
from bot.infra import environment
from bot.infra.settings import DEMO_PROJECT, Settings
from bot.kernel.errors import ConfigError
from bot.knowledge.cli import kb
from bot.ops.cli import scope
from bot.qa.cli import qa


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written (click's test runner swaps it per invocation)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def offline() -> None:
    """The set-up every command shares: models load from local paths only, without progress bars
    (:func:`bot.infra.environment.use_local_models`), and log lines go to standard error, so standard output
    carries only a command's result (``careline eval kb --json | jq`` works). A command that configures
    logging itself (``serve``, ``chat``) still does; logging configured before the command is kept."""
    import structlog

    from bot.infra.logs import configure_logging

    environment.use_local_models()
    if not structlog.is_configured():
        configure_logging(level="info", stream=_Stderr())


RASA_PATHS = "careline.rasa_paths"
"""Key of :attr:`click.Context.meta` under which the Rasa path options (``-c``, ``-d``, ``--data``,
``--endpoints``) are kept for :func:`load_or_exit`."""


def load_or_exit(project: Path) -> Any:
    """The project at ``project``, or exit 1 after printing its problems (file, line, key). The Rasa path
    options of the running command (:func:`rasa_path_options`), if any, say where its parts are."""
    from bot.project import load_project

    ctx = click.get_current_context(silent=True)
    paths: dict[str, Any] = ctx.meta.get(RASA_PATHS, {}) if ctx is not None else {}
    try:
        return load_project(project, config=paths.get("config"), domain=paths.get("domain"),
                            data=paths.get("data", ()), endpoints=paths.get("endpoints"))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


def _remember_path(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    if value:
        ctx.meta.setdefault(RASA_PATHS, {})[param.name] = value


def _path_option(*decls: str, help: str, multiple: bool = False) -> Any:
    return click.option(*decls, type=click.Path(path_type=Path), multiple=multiple, default=None,
                        expose_value=False, is_eager=True, callback=_remember_path, help=help)


def rasa_path_options(command: Any) -> Any:
    """Rasa's path options, as in ``rasa train``: ``-c/--config``, ``-d/--domain`` (file or folder),
    ``--data`` (files or folders, repeatable) and ``--endpoints``. They do not reach the command's function:
    :func:`load_or_exit` reads them. Relative paths are from the current directory, like Rasa's."""
    for option in reversed((
        _path_option("-c", "--config", "config", help="Config file (default: config.yml or config/config.yml)."),
        _path_option("-d", "--domain", "domain", help="Domain file or folder (default: domain.yml or domain/)."),
        _path_option("--data", "data", multiple=True,
                     help="Training data file or folder; repeatable (default: data/, flows/, nlu/)."),
        _path_option("--endpoints", "endpoints", help="Endpoints file (default: endpoints.yml if present)."),
    )):
        command = option(command)
    return command


def _project_or_cwd(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Without ``--project``, Rasa's path options mean a Rasa project in the current directory."""
    if value is None and ctx.meta.get(RASA_PATHS):
        return Path(".")
    return value


@click.group()
@click.version_option(package_name="careline")
def main() -> None:
    """Careline: customer-service chatbots and voicebots with human handoff."""
    offline()


_project = click.option(
    "--project", "project", type=click.Path(path_type=Path), default=None, callback=_project_or_cwd,
    help="Project directory: Careline's layout or a Rasa project (default: the bundled Northwind demo; the "
         "current directory when a Rasa path option is given).",
)


def project_option(command: Any) -> Any:
    """``--project`` plus Rasa's path options (:func:`rasa_path_options`)."""
    return _project(rasa_path_options(command))


@main.command()
@project_option
@click.option("--debug", is_flag=True, help="Show intent, confidence, slots and the active flow after each turn.")
@click.option("--sender", default="terminal", show_default=True, help="Conversation id.")
@click.option("--database", "database_url", default="sqlite:///:memory:", show_default=True)
def chat(project: Path | None, debug: bool, sender: str, database_url: str) -> None:
    """Chat with the bot in the terminal (empty line or Ctrl-D ends)."""
    from bot.infra.logs import configure_logging

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(level="warning")
    loaded = load_or_exit(settings.project)
    try:
        asyncio.run(_chat(settings, loaded, sender, debug))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)


async def _chat(settings: Settings, project: Any, sender: str, debug: bool) -> None:
    from bot.app.runtime import build_runtime
    from bot.kernel.errors import RequestError
    from bot.kernel.messages import UserMessage

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
@click.argument("project", type=click.Path(path_type=Path), required=False, default=Path("."))
@rasa_path_options
def validate(project: Path) -> None:
    """Check a project directory (default: the current one), Careline's layout or a Rasa project; print every
    problem with file, line and key, and the Rasa keys accepted but not used."""
    loaded = load_or_exit(project)
    ignored = f", {len(loaded.warnings)} Rasa keys accepted but not used (logged)" if loaded.warnings else ""
    click.echo(
        f"ok: {project} — {len(loaded.flows)} flows, {len(loaded.nlu.intents)} intents, "
        f"{len(loaded.nlu.examples)} examples, {len(loaded.domain.responses)} responses, "
        f"{len(loaded.domain.slots)} slots{ignored}"
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


for _command in (kb, scope, handoff, report, qa, customer):
    main.add_command(_command)
