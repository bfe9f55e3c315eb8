"""``careline qa``: score finished conversations, and the QA report in the terminal, as JSON or as CSV.

    careline qa score [--project DIR] [--database URL]
    careline qa report --since 7d [--json] [--csv PATH] [--topics]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bot.analytics.windows import BadWindow, window
from bot.infra.cache import cache_dir
from bot.infra.settings import Settings
from bot.kernel.errors import CarelineError
from bot.qa.report import write_csv
from bot.qa.scorecard import FILENAME, load_scorecard
from bot.qa.service import QAService
from bot.storage import open_database

T = TypeVar("T")

_project = click.option("--project", "project", type=click.Path(path_type=Path), default=None,
                        help="Project directory (default: the bundled demo); holds qa.yml and locates the database.")
_database = click.option("--database", "database_url", default=None, help="sqlite:///PATH or postgresql://...")


def _run(project: Path | None, database_url: str | None, action: Callable[[QAService], Awaitable[T]]) -> T:
    """Open the database and the scorecard, run ``action``, close; problems exit 1 with the reason."""
    settings = Settings.from_env(project=project, database_url=database_url)
    url = settings.database_url or f"sqlite:///{cache_dir(settings.project) / 'careline.db'}"

    async def main() -> T:
        scorecard = load_scorecard(settings.project)
        if scorecard is None:
            raise click.ClickException(f"{settings.project / FILENAME} does not exist: write a scorecard first "
                                       "(see docs/qa.md)")
        encoder = None
        if scorecard.similarity == "embedding":
            from bot.infra.embeddings import ServingEncoder, shared_embedder

            encoder = ServingEncoder(shared_embedder())
        llm = None
        if any(c.check == "llm_judge" for c in scorecard.criteria):
            from bot.project import load_project

            llm = load_project(settings.project).config.llm
        db = await open_database(url)
        service = QAService(db, scorecard, encoder=encoder, llm=llm)
        try:
            await service.setup()
            return await action(service)
        finally:
            await service.close()
            await db.close()

    try:
        return asyncio.run(main())
    except CarelineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@click.group()
def qa() -> None:
    """Quality assurance of every conversation: scorecard in qa.yml, scores, report, what to automate next."""


@qa.command("score")
@_project
@_database
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
def score(project: Path | None, database_url: str | None, as_json: bool) -> None:
    """Score every finished conversation not yet scored under the current scorecard version."""
    async def action(service: QAService) -> dict[str, Any]:
        run = await service.score()
        return {**run.to_dict(), "scorecard_version": service.scorecard.version}

    result = _run(project, database_url, action)
    if as_json:
        click.echo(json.dumps(result))
    else:
        click.echo(f"scored {result['scored']} conversation(s) under scorecard {result['scorecard_version']} "
                   f"({result['failures']} failed criteria, {result['skipped']} scored by another worker) "
                   f"in {result['seconds']} s")


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(result: dict[str, Any]) -> str:
    """The terminal report: criteria with pass rates, segments, agents, calibration, topics."""
    overall = result["overall"]
    mean = "-" if overall["mean_score"] is None else f"{overall['mean_score'] * 100:.1f}%"
    out = [f"QA {result['scorecard']['name']} (version {result['scorecard']['version']}), last {result['window']}: "
           f"{overall['conversations']} conversations scored, mean score {mean}, "
           f"{overall['with_failures']} with failures", "",
           f"{'criterion':<28} {'side':<6} {'applicable':>10} {'failed':>7} {'pass rate':>9}"]
    for entry in result["criteria"]:
        rate = "-" if entry["pass_rate"] is None else f"{entry['pass_rate'] * 100:.1f}%"
        out.append(f"{entry['criterion']:<28} {entry['side']:<6} {entry['applicable']:>10} {entry['failed']:>7} "
                   f"{rate:>9}")
    for kind in ("kind", "channel", "agent"):
        groups = result["segments"][kind]
        if groups:
            out += ["", f"by {kind}: " + ", ".join(
                f"{name} {seg['conversations']} ({_score(seg['mean_score'])})" for name, seg in groups.items())]
    calibration = result["calibration"]["criteria"]
    if calibration:
        out += ["", "calibration (agreement with reviewers): " + ", ".join(
            f"{name} {entry['agreement'] * 100:.0f}% of {entry['reviewed']}" for name, entry in calibration.items())]
    topics = result.get("topics", {}).get("topics", [])
    if topics:
        out += ["", "what to automate next:"]
        for topic in topics:
            out.append(f"  {topic['count']:>4}  {topic['label']}  (agents resolved "
                       f"{topic['resolved_by_agents'] * 100:.0f}%) -> {topic['suggestion']}")
    return "\n".join(out)


@qa.command("report")
@click.option("--since", default="7d", show_default=True, help="Window: hour, day, 7d or a duration like 12h.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report to this CSV file (long format).")
@click.option("--topics/--no-topics", default=True, show_default=True,
              help="Cluster handed-off and unanswered messages into topics (loads the sentence encoder).")
@_project
@_database
def report_command(since: str, as_json: bool, csv_path: Path | None, topics: bool, project: Path | None,
                   database_url: str | None) -> None:
    """Scores of the conversations created in the window: per criterion, segment and agent; calibration."""
    try:
        selected = window(since, until=time.time())
    except BadWindow as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from exc

    async def action(service: QAService) -> dict[str, Any]:
        result = await service.report(since=selected.since, until=selected.until, window=selected.label)
        if topics:
            from bot.infra.embeddings import ServingEncoder, shared_embedder
            from bot.qa.topics import automate_next

            encoder = ServingEncoder(shared_embedder())
            found = await automate_next(service.database, encoder, since=selected.since, until=selected.until)
            result["topics"] = found.to_dict()
        return result

    result = _run(project, database_url, action)
    if csv_path is not None:
        rows = write_csv(result, csv_path)
        click.echo(f"wrote {rows} rows to {csv_path}", err=True)
    click.echo(json.dumps(result, indent=2) if as_json else render(result))
