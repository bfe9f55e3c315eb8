"""``careline customer``: data-subject requests and retention from a terminal (actor ``cli:$USER``).

    careline customer export C001 > c001.json     everything held about C001, as JSON
    careline customer erase C001 --yes            erase C001 (with two-person confirmation: prints the request id)
    careline customer erase C001 --confirm 7 --yes   a second operator confirms request 7
    careline customer retention                   run the retention job once now
"""

from __future__ import annotations

import asyncio
import getpass
import json
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


def _run(project: Path | None, database_url: str | None, action: Callable[[Any, Any], Awaitable[T]]) -> T:
    from bot.app.runtime import default_database_url
    from bot.infra.settings import Settings
    from bot.project import load_project
    from bot.storage import ConversationStore, open_database

    settings = Settings.from_env(project=project, database_url=database_url)
    loaded = load_project(settings.project)
    url = settings.database_url or default_database_url(loaded)

    async def main() -> T:
        db = await open_database(url)
        try:
            await ConversationStore(db).setup()
            return await action(db, loaded)
        finally:
            await db.close()

    try:
        return asyncio.run(main())
    except CarelineError as exc:
        raise click.ClickException(str(exc)) from exc


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@click.group()
def customer() -> None:
    """A customer's data: export, erase, retention."""


@customer.command("export")
@click.argument("customer_id")
@project_option
@database_option
def customer_export(customer_id: str, project: Path | None, database_url: str | None) -> None:
    """Print everything held about CUSTOMER_ID as JSON (audited)."""
    from bot.customers.requests import DataRequests

    async def action(db: Any, loaded: Any) -> dict[str, Any]:
        return await DataRequests(db, loaded).export(customer_id, actor=_actor())

    click.echo(json.dumps(_run(project, database_url, action), indent=2, default=str))


@customer.command("erase")
@click.argument("customer_id")
@click.option("--confirm", "confirm", type=click.IntRange(1), default=None,
              help="Confirm another operator's erasure request (two-person confirmation).")
@click.option("--yes", is_flag=True, help="Do not ask before erasing.")
@project_option
@database_option
def customer_erase(customer_id: str, confirm: int | None, yes: bool, project: Path | None,
                   database_url: str | None) -> None:
    """Erase CUSTOMER_ID: conversation events redacted in place, records deleted, audit rows kept (audited)."""
    from bot.customers.requests import ConfirmationRequired, DataRequests

    if not yes:
        click.confirm(f"Erase everything held about customer {customer_id}? This cannot be undone", abort=True)

    async def action(db: Any, loaded: Any) -> dict[str, Any]:
        try:
            return (await DataRequests(db, loaded).erase(customer_id, actor=_actor(), confirm=confirm)).to_dict()
        except ConfirmationRequired as pending:
            return {"pending": True, "request_id": pending.request_id, "message": str(pending)}

    click.echo(json.dumps(_run(project, database_url, action), indent=2))


@customer.command("retention")
@project_option
@database_option
def customer_retention(project: Path | None, database_url: str | None) -> None:
    """Run the retention job once now (``retention:`` in config.yml); prints what it changed."""
    from bot.customers.retention import RetentionJob

    async def action(db: Any, loaded: Any) -> dict[str, Any]:
        report = await RetentionJob(db, loaded).run()
        return {"skipped": report.skipped, "changed": report.counts}

    click.echo(json.dumps(_run(project, database_url, action), indent=2))
