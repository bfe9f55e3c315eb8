"""``careline outbound status|create|run``: campaigns from the command line.

``run`` is the scheduler as its own process (any number of them, and web workers with
``CARELINE_OUTBOUND_SCHEDULER=1``: the store's lease lets one tick at a time). It reads Twilio's settings from
the environment like the web app; the webhooks (answers, status callbacks, replies) go to the web app.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.app.cli import load_or_exit, project_option
from bot.infra.settings import Settings
from bot.kernel.errors import CarelineError
from bot.outbound import OUTCOMES, OutboundService

T = TypeVar("T")

database_option = click.option("--database", "database_url", default=None,
                               help="sqlite:///PATH or postgresql://... (default: the server's default).")


def _with_service(project: Path | None, database_url: str | None,
                  action: Callable[[OutboundService], Awaitable[T]]) -> T:
    from bot.app.runtime import open_outbound
    from bot.infra.logs import configure_logging

    settings = Settings.from_env(project=project, database_url=database_url)
    configure_logging(level="warning")
    loaded = load_or_exit(settings.project)

    async def main() -> T:
        service, database = await open_outbound(settings, loaded)
        try:
            return await action(service)
        finally:
            await service.backend.close()
            await database.close()

    try:
        return asyncio.run(main())
    except CarelineError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def outbound() -> None:
    """Outbound campaigns: confirmation calls and reminders."""


@outbound.command()
@project_option
@database_option
@click.option("--campaign", "campaign_id", default=None, help="One campaign's targets and attempts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(project: Path | None, database_url: str | None, campaign_id: str | None, as_json: bool) -> None:
    """Campaigns and their outcomes (reached, voicemail, confirmed, ...)."""
    async def action(service: OutboundService) -> dict[str, Any]:
        return await (service.view(campaign_id) if campaign_id else service.summary())

    data = _with_service(project, database_url, action)
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    campaigns = [data["campaign"]] if campaign_id else data["campaigns"]
    if not campaigns:
        click.echo("no campaigns")
    for c in campaigns:
        outcomes = data["outcomes"] if campaign_id else c["outcomes"]
        counts = ", ".join(f"{name} {outcomes[name]}" for name in OUTCOMES if outcomes.get(name))
        click.echo(f"{c['id']}  {c['status']:<9} {c['channel']:<7} {c['name']}  {counts or 'no outcomes yet'}")


@outbound.command()
@project_option
@database_option
@click.option("--kind", type=click.Choice(["appointments", "delayed_orders"]), required=True)
@click.option("--channel", type=click.Choice(["voice", "sms", "webhook"]), required=True)
@click.option("--day", default=None, help="Appointments on this ISO date (default: tomorrow).")
@click.option("--name", default=None)
@click.option("--webhook-url", default=None, help="Where a webhook campaign posts each contact.")
def create(project: Path | None, database_url: str | None, kind: str, channel: str, day: str | None,
           name: str | None, webhook_url: str | None) -> None:
    """Create a campaign with its targets read from the backend now; prints its id."""
    spec = {k: v for k, v in {"kind": kind, "channel": channel, "day": day, "name": name,
                              "webhook_url": webhook_url}.items() if v is not None}

    async def action(service: OutboundService) -> str:
        campaign = await service.create(spec)
        return f"{campaign.id}  {len(await service.store.targets(campaign.id))} target(s)"

    click.echo(_with_service(project, database_url, action))


@outbound.command()
@project_option
@database_option
@click.option("--once", is_flag=True, help="One tick, then exit.")
@click.option("--interval", type=click.FloatRange(0.5, 600), default=5.0, show_default=True,
              help="Seconds between ticks.")
def run(project: Path | None, database_url: str | None, once: bool, interval: float) -> None:
    """Run the scheduler: place due calls and send due messages until interrupted."""
    from connectors.outbound.routes import register_senders

    async def action(service: OutboundService) -> int:
        channels = register_senders(service)
        click.echo(f"channels: {', '.join(channels)}", err=True)
        if once:
            return len(await service.tick())
        await service.run(interval=interval)
        return 0

    made = _with_service(project, database_url, action)
    if once:
        click.echo(f"{made} attempt(s) made")
