"""``careline scope show|set|history|rollback|releases|restore-release``: the automation scope and releases.

``careline eval guard`` (a detector on a labelled dataset) lives in :mod:`evals.datasets`.

The scope commands write the history in the deployment's database (``--database`` or
``CARELINE_DATABASE_URL``) and, with ``CARELINE_REDIS_URL``, tell every running worker at once.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.infra.settings import Settings
from bot.kernel.errors import CarelineError, ConfigError

T = TypeVar("T")

project_option = click.option("--project", type=click.Path(path_type=Path), default=None,
                              help="Project directory (default: the bundled demo).")
database_option = click.option("--database", "database_url", default=None,
                               help="sqlite:///PATH or postgresql://... (default: the server's default).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(project: Path | None, database_url: str | None, action: Callable[[Any], Awaitable[T]]) -> T:
    from bot.app.runtime import default_database_url
    from bot.infra.logs import configure_logging
    from bot.ops.scope import ScopeService
    from bot.project import load_project
    from bot.storage import open_database

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(level="warning")
    try:
        loaded = load_project(settings.project)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc

    async def main() -> T:
        database = await open_database(settings.database_url or default_database_url(loaded))
        service = ScopeService(database, loaded.guardrails.scope, redis_url=settings.redis_url,
                               flows=loaded.flows, intents=loaded.nlu.intents)
        try:
            await service.setup()
            await service.start()
            return await action(service)
        finally:
            await service.close()
            await database.close()

    try:
        return asyncio.run(main())
    except CarelineError as exc:
        raise click.ClickException(str(exc)) from exc


def _print_version(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    scope = data["scope"]
    click.echo(f"scope v{data['version']} ({data['kind']}) by {data['author']} at "
               f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(data['created_at']))} UTC: {data['reason']}")
    click.echo(f"  automation: {'on' if scope['automation'] else 'off'}   rollout: {scope['rollout']:g}%")
    for key in ("flows", "channels", "intents"):
        if scope[key]:
            click.echo(f"  {key}: " + ", ".join(f"{k}={'on' if v else 'off'}" for k, v in sorted(scope[key].items())))


@click.group()
def scope() -> None:
    """The automation scope (the roll-back switch): show, change, history, rollback; project releases."""


@scope.command("show")
@project_option
@database_option
@json_option
def scope_show(project: Path | None, database_url: str | None, as_json: bool) -> None:
    """The current scope and its version."""

    async def action(service: Any) -> dict[str, Any]:
        return service.current.to_dict()  # type: ignore[no-any-return]

    _print_version(_run(project, database_url, action), as_json)


def _switches(values: tuple[str, ...], key: str) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    for value in values:
        name, _, state = value.partition("=")
        if state not in ("on", "off", "default") or not name:
            raise click.BadParameter(f"expected NAME=on|off|default, got {value!r}", param_hint=f"--{key}")
        out[name] = None if state == "default" else state == "on"
    return out


@scope.command("set")
@project_option
@database_option
@json_option
@click.option("--automation", type=click.Choice(["on", "off"]), default=None, help="Global switch.")
@click.option("--flow", "flows", multiple=True, help="FLOW=on|off|default (repeatable).")
@click.option("--channel", "channels", multiple=True, help="CHANNEL=on|off|default (repeatable).")
@click.option("--intent", "intents", multiple=True, help="INTENT=on|off|default (repeatable).")
@click.option("--rollout", type=click.FloatRange(0, 100), default=None, help="Percent of new conversations served.")
@click.option("--reason", required=True, help="Why (kept in the history).")
@click.option("--author", default=None, help="Who (default: the login name).")
def scope_set(project: Path | None, database_url: str | None, as_json: bool, automation: str | None,
              flows: tuple[str, ...], channels: tuple[str, ...], intents: tuple[str, ...], rollout: float | None,
              reason: str, author: str | None) -> None:
    """Change the scope (a new version; unnamed switches keep their value)."""
    changes: dict[str, Any] = {}
    if automation is not None:
        changes["automation"] = automation == "on"
    for key, values in (("flows", flows), ("channels", channels), ("intents", intents)):
        if values:
            changes[key] = _switches(values, key[:-1])
    if rollout is not None:
        changes["rollout"] = rollout
    if not changes:
        raise click.UsageError("nothing to change: give --automation, --flow, --channel, --intent or --rollout")

    async def action(service: Any) -> dict[str, Any]:
        return (await service.update(changes, author=author or getpass.getuser(), reason=reason)).to_dict()  # type: ignore[no-any-return]

    _print_version(_run(project, database_url, action), as_json)


@scope.command("history")
@project_option
@database_option
@json_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def scope_history(project: Path | None, database_url: str | None, as_json: bool, limit: int) -> None:
    """Every version, newest first."""

    async def action(service: Any) -> list[dict[str, Any]]:
        return [v.to_dict() for v in await service.history(limit)]

    versions = _run(project, database_url, action)
    if as_json:
        click.echo(json.dumps(versions, indent=2))
        return
    for data in versions:
        restored = f" (restores v{data['restored_from']})" if data["restored_from"] else ""
        click.echo(f"v{data['version']:<4} {data['kind']:<8} {data['author']:<16} "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(data['created_at']))}  {data['reason']}{restored}")


@scope.command("rollback")
@project_option
@database_option
@json_option
@click.argument("version", type=int)
@click.option("--reason", required=True, help="Why (kept in the history).")
@click.option("--author", default=None, help="Who (default: the login name).")
def scope_rollback(project: Path | None, database_url: str | None, as_json: bool, version: int, reason: str,
                   author: str | None) -> None:
    """Restore VERSION's scope (as a new version)."""

    async def action(service: Any) -> dict[str, Any]:
        return (await service.rollback(version, author=author or getpass.getuser(), reason=reason)).to_dict()  # type: ignore[no-any-return]

    _print_version(_run(project, database_url, action), as_json)


@scope.command("releases")
@project_option
@database_option
@json_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
def scope_releases(project: Path | None, database_url: str | None, as_json: bool, limit: int) -> None:
    """Deployed project versions (flows, NLU, knowledge), most recently deployed first."""
    from bot.ops.releases import ReleaseStore

    async def action(service: Any) -> list[dict[str, Any]]:
        store = ReleaseStore(service.database)
        await store.setup()
        return [r.summary() for r in await store.recent(limit)]

    releases = _run(project, database_url, action)
    if as_json:
        click.echo(json.dumps(releases, indent=2))
        return
    for data in releases:
        click.echo(f"release {data['release']:<4} {data['fingerprint']}  {data['files']:>4} files  deployed "
                   f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(data['deployed_at']))} UTC")


@scope.command("restore-release")
@project_option
@database_option
@click.argument("release", type=int)
@click.option("--to", "target", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the release's project files to.")
def scope_restore_release(project: Path | None, database_url: str | None, release: int, target: Path) -> None:
    """Write RELEASE's project files to a folder (then serve it, or commit it)."""
    from bot.ops.releases import ReleaseStore

    async def action(service: Any) -> int:
        store = ReleaseStore(service.database)
        await store.setup()
        return len(await store.restore(release, target))

    click.echo(f"restored {_run(project, database_url, action)} files of release {release} to {target}")
