"""``careline handoff``: the queue and the audit trail from a terminal, and the context package's schema.

Reading the queue here is audited like any other view (actor ``cli:$USER``).
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

from bot.kernel.errors import CarelineError

T = TypeVar("T")

database_option = click.option("--database", "database_url", default=None,
                               help="sqlite:///PATH or postgresql://... (default: the project's database).")
project_option = click.option("--project", type=click.Path(path_type=Path), default=None,
                              help="Project directory (default: the bundled demo).")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _run(project: Path | None, database_url: str | None, action: Callable[[Any], Awaitable[T]]) -> T:
    from bot.infra.settings import Settings
    from bot.storage import open_database

    settings = Settings.from_env(project=project, database_url=database_url)
    url = settings.database_url
    if url is None:
        from bot.app.runtime import default_database_url
        from bot.project import load_project

        url = default_database_url(load_project(settings.project))

    async def main() -> T:
        db = await open_database(url)
        try:
            return await action(db)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except CarelineError as exc:
        raise click.ClickException(str(exc)) from exc


def _operator() -> Any:
    from bot.infra.settings import Principal

    return Principal(f"cli:{getpass.getuser()}", "admin", "")


@click.group()
def handoff() -> None:
    """The human handoff: queue, audit trail, context schema."""


@handoff.command("schema")
def handoff_schema() -> None:
    """Print the JSON schema of the context package agents and helpdesks receive."""
    from bot.handoff.context import context_schema

    click.echo(json.dumps(context_schema(), indent=2))


@handoff.command("queue")
@project_option
@database_option
@click.option("--team", default=None, help="Only this team's conversations.")
@json_option
def handoff_queue(project: Path | None, database_url: str | None, team: str | None, as_json: bool) -> None:
    """List waiting and claimed conversations (priority, then wait)."""
    from bot.handoff.audit import AuditLog
    from bot.handoff.queue import HandoffQueue

    async def action(db: Any) -> list[dict[str, Any]]:
        audit = AuditLog(db)
        await audit.setup()
        entries = await HandoffQueue(db).entries(team=team)
        await audit.record(_operator(), "view_queue", team=team, count=len(entries), via="cli")
        now = time.time()
        return [e.to_dict(now) for e in entries]

    rows = _run(project, database_url, action)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("nobody is waiting")
    for row in rows:
        owner = row["agent"] or "waiting"
        click.echo(f"{row['conversation_id']:<24} {row['reason'] or '-':<12} {row['team'] or '-':<12} "
                   f"{int(row['waiting_seconds']):>6}s  {owner}")


@handoff.command("audit")
@project_option
@database_option
@click.option("--conversation", "conversation_id", default=None, help="Only this conversation.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@json_option
def handoff_audit(project: Path | None, database_url: str | None, conversation_id: str | None, limit: int,
                  as_json: bool) -> None:
    """Print the latest audit rows (who viewed or did what, when)."""
    from bot.handoff.audit import AuditLog

    async def action(db: Any) -> list[dict[str, Any]]:
        audit = AuditLog(db)
        await audit.setup()
        return [r.to_dict() for r in await audit.records(conversation_id=conversation_id, limit=limit)]

    rows = _run(project, database_url, action)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(row["at"]))
        click.echo(f"{stamp}  {row['actor']:<16} {row['action']:<14} {row['conversation_id'] or '-'}")
