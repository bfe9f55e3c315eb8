"""``careline report``: the ops console's KPIs in the terminal, or as JSON or CSV."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
import time
from pathlib import Path
from typing import Any

import click

from bot.analytics.kpis import KpiReport, KpiSet, compute_kpis
from bot.analytics.windows import BadWindow, window
from bot.infra.cache import cache_dir
from bot.infra.settings import Settings
from bot.kernel.errors import StoreError
from bot.storage import open_database

PERCENT, COUNT, SECONDS, SCORE = "percent", "count", "seconds", "score"

#: Rows of the terminal table: label, KpiSet field, format.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("Conversations", "conversations", COUNT),
    ("Containment", "containment_rate", PERCENT),
    ("Escalation rate", "escalation_rate", PERCENT),
    ("Knowledge answered", "knowledge_answer_rate", PERCENT),
    ("Knowledge don't know", "knowledge_dont_know_rate", PERCENT),
    ("Auth success", "auth_success_rate", PERCENT),
    ("Auth lockout", "auth_lockout_rate", PERCENT),
    ("CSAT responses", "csat_responses", COUNT),
    ("CSAT average (1-5)", "csat_average", SCORE),
    ("CSAT 4-5", "csat_satisfied_rate", PERCENT),
    ("Bot handling (avg)", "bot_handling_seconds", SECONDS),
    ("Agent handling (avg)", "agent_handling_seconds", SECONDS),
    ("Agent pickup (avg)", "pickup_seconds_avg", SECONDS),
    ("Agent pickup (p90)", "pickup_seconds_p90", SECONDS),
    ("FCR proxy", "fcr_rate", PERCENT),
)


def fmt(value: Any, kind: str) -> str:
    """A KPI value as the table shows it (``-`` when there is nothing to measure)."""
    if value is None:
        return "-"
    if kind == PERCENT:
        return f"{value * 100:.1f}%"
    if kind == SECONDS:
        minutes, seconds = divmod(round(value), 60)
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    if kind == SCORE:
        return f"{value:.2f}"
    return str(value)


def table(columns: dict[str, KpiSet]) -> str:
    """A plain-text table: one row per KPI (escalation reasons included), one column per segment."""
    reasons = sorted({r for k in columns.values() for r in k.escalations_by_reason})
    rows = [ROWS[0], ROWS[1], ROWS[2]]
    body = [[label] + [fmt(getattr(k, key), kind) for k in columns.values()] for label, key, kind in rows]
    body += [[f"  escalated: {r}"] + [fmt(k.escalations_by_reason.get(r, {}).get("rate"), PERCENT)
                                       for k in columns.values()] for r in reasons]
    body += [[label] + [fmt(getattr(k, key), kind) for k in columns.values()] for label, key, kind in ROWS[3:]]
    header = ["KPI", *columns]
    widths = [max(len(row[i]) for row in [header, *body]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))

    return "\n".join([line(header), "  ".join("-" * w for w in widths), *map(line, body)])


def render(report: KpiReport) -> str:
    """The whole terminal report: overall and per channel, then per flow."""
    since = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.since))
    until = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.until))
    parts = [f"Careline KPIs, last {report.window} ({since} to {until}); queue now: {report.queue_length}", "",
             table({"all": report.overall, **report.by_channel})]
    if report.by_flow:
        parts += ["", "Per flow", table(report.by_flow)]
    return "\n".join(parts)


def flatten(kpis: KpiSet) -> dict[str, Any]:
    """One KPI set as ``name: value`` (nested maps become ``name:key``)."""
    out: dict[str, Any] = {}
    for name, value in kpis.to_dict().items():
        if name == "escalations_by_reason":
            for reason, entry in value.items():
                out[f"escalation_count:{reason}"] = entry["count"]
                out[f"escalation_rate:{reason}"] = entry["rate"]
        elif isinstance(value, dict):
            out.update({f"{name}:{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def write_csv(report: KpiReport, path: Path) -> int:
    """Long-format CSV (segment_type, segment, kpi, value); returns the number of data rows."""
    segments = [("all", "all", report.overall)]
    segments += [("channel", c, k) for c, k in report.by_channel.items()]
    segments += [("flow", f, k) for f, k in report.by_flow.items()]
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["window", "segment_type", "segment", "kpi", "value"])
        writer.writerow([report.window, "all", "all", "queue_length", report.queue_length])
        for kind, name, kpis in segments:
            for kpi, value in flatten(kpis).items():
                writer.writerow([report.window, kind, name, kpi, "" if value is None else value])
                count += 1
    return count + 1


def database_url_for(settings: Settings) -> str:
    """The database the server uses: ``--database``/``CARELINE_DATABASE_URL``, else the project's SQLite file
    (the same file as :func:`bot.app.runtime.default_database_url`)."""
    return settings.database_url or f"sqlite:///{cache_dir(settings.project) / 'careline.db'}"


async def _report(database_url: str, since: str) -> KpiReport:
    db = await open_database(database_url)
    try:
        return await compute_kpis(db, window(since, until=time.time()))
    finally:
        await db.close()


@click.command()
@click.option("--since", default="7d", show_default=True, help="Window: hour, day, 7d or a duration like 12h, 30d.")
@click.option("--json", "as_json", is_flag=True, help="Print the KPIs as JSON instead of a table.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the KPIs to this CSV file (long format: segment_type, segment, kpi, value).")
@click.option("--project", "project", type=click.Path(path_type=Path), default=None,
              help="Project directory (default: the bundled demo); locates the default database.")
@click.option("--database", "database_url", default=None, help="sqlite:///PATH or postgresql://... ")
def report(since: str, as_json: bool, csv_path: Path | None, project: Path | None, database_url: str | None) -> None:
    """KPIs from every conversation in the window: containment, escalations, knowledge, auth, CSAT, AHT, FCR."""
    settings = Settings.from_env(project=project, database_url=database_url)
    try:
        result = asyncio.run(_report(database_url_for(settings), since))
    except BadWindow as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc
    except StoreError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    if csv_path is not None:
        rows = write_csv(result, csv_path)
        click.echo(f"wrote {rows} rows to {csv_path}", err=True)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        click.echo(render(result))
