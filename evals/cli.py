"""``careline eval``: run conversation test suites (``careline eval PATH...``) next to the dataset evals
(``careline eval nlu|kb|guard``, :mod:`evals.datasets`).

:data:`eval_group` is the ``eval`` group the ``careline`` command mounts (:mod:`careline.cli`). It is an
:class:`EvalGroup`: a first argument that is not a sub-command name is taken as the start of a suite run, so
``careline eval evals/suites --junit out.xml`` and ``careline eval run evals/suites --junit out.xml`` are the
same command.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from evals.datasets import eval_guard, eval_kb, eval_nlu

RUN = "run"
SHIPPED_SUITES = Path(__file__).parent / "suites"

#: Exit codes: failures (or a regression against the baseline) → 1, unusable input → 2 (click's usage code).
EXIT_FAILED = 1
EXIT_INVALID = 2


class EvalGroup(click.Group):
    """The ``eval`` group: sub-commands by name, anything else runs suites (``careline eval PATH...``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.add_command(run_command, RUN)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = [RUN, *args]
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write_usage(ctx.command_path, "[PATH... | COMMAND] [OPTIONS]")


def _echo_failures(run: Any) -> None:
    """Failed cases the way ``rasa test e2e`` prints them: a banner, then per case its file and line, the
    assertion that failed, what was expected and what the bot did; then skipped judgements with their reason."""
    from evals.junit import failure_text

    failed = [r for r in run.cases if not r.passed]
    if failed:
        click.echo("\n" + " FAILURES ".center(80, "="), err=True)
    for result in failed:
        header = f" {result.case.id} ({result.case.path}:{result.case.line}) "
        click.echo(f"\n{str(result.status).upper()} " + header.center(73, "-"), err=True)
        click.echo(result.error if result.error else failure_text(result), err=True)
    skipped = [(r, c) for r in run.cases for c in r.checks if c.outcome.skipped]
    if skipped:
        click.echo("\n" + " SKIPPED ASSERTIONS ".center(80, "="), err=True)
        for result, check in skipped:
            click.echo(f"{result.case.path}:{check.line} {result.case.id} {check.outcome.assertion}: "
                       f"{check.outcome.actual}", err=True)


def _echo_metrics(run: Any, stream_err: bool) -> None:
    from evals.reports import format_value

    click.echo("\nmetrics:", err=stream_err)
    for name, value in run.metrics["values"].items():
        click.echo(f"  {name:<22} {format_value(name, value):>8}   (n={run.metrics['support'][name]})", err=stream_err)


async def _run(paths: list[Path], project: Path | None, url: str | None, token: str | None, concurrency: int,
               pattern: str | None, tags: tuple[str, ...], progress: bool, voice: bool = False) -> Any:
    from evals.loader import load_suites
    from evals.runner import run_suites
    from evals.targets import HttpTarget, InProcessTarget, Target

    suites = load_suites(paths)
    target: Target
    runtime = None
    if url:
        if not token:
            raise click.UsageError("--url needs the server's admin token (--token or CARELINE_ADMIN_TOKEN) "
                                   "to read trackers")
        if voice:
            from evals.voice import VoiceTarget

            target = VoiceTarget(url, token)
        else:
            target = HttpTarget(url, token)
    elif voice:
        raise click.UsageError("--voice calls a running server: give its --url")
    else:
        from bot.app.runtime import build_runtime
        from bot.infra.settings import Settings
        from bot.project import load_project

        settings = Settings.from_env(project=project, database_url="sqlite:///:memory:")
        runtime = await build_runtime(settings, load_project(settings.project))
        target = InProcessTarget.for_runtime(runtime)
    try:
        return await run_suites(suites, target, concurrency=concurrency, progress=progress, pattern=pattern,
                                tags=tags)
    finally:
        await target.close()
        if runtime is not None:
            await runtime.close()


@click.command(RUN)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--project", type=click.Path(path_type=Path), default=None,
              help="Project to test in-process (default: CARELINE_PROJECT or the bundled demo).")
@click.option("--url", default=None, help="Test a running server instead (e.g. http://127.0.0.1:8080).")
@click.option("--voice", is_flag=True,
              help="With --url: speak each turn over the server's phone line (TTS → STT → engine → TTS); "
                   "reports word error rate and spoken latency.")
@click.option("--token", envvar="CARELINE_ADMIN_TOKEN", default=None,
              help="Admin token of the server at --url (reads trackers). Env: CARELINE_ADMIN_TOKEN.")
@click.option("-j", "--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Conversations run at the same time.")
@click.option("-k", "pattern", default=None, help="Only cases whose 'suite::name' contains this text.")
@click.option("--tag", "tags", multiple=True, help="Only cases with this tag (repeatable: all must match).")
@click.option("--junit", type=click.Path(path_type=Path), default=None, help="Write JUnit XML here.")
@click.option("--report", "report_dir", type=click.Path(path_type=Path), default=None,
              help="Write an HTML + Markdown report (transcripts, diffs, plots) into this folder.")
@click.option("--compare", "baseline", type=click.Path(path_type=Path), default=None,
              help="A previous --json result: list regressions and improvements; regressions fail the run.")
@click.option("--json", "json_out", default=None,
              help="Write the full result as JSON to this file ('-' for standard output).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal).")
def run_command(paths: tuple[Path, ...], project: Path | None, url: str | None, voice: bool, token: str | None,
                concurrency: int,
                pattern: str | None, tags: tuple[str, ...], junit: Path | None, report_dir: Path | None,
                baseline: Path | None, json_out: str | None, progress: bool | None) -> None:
    """Run conversation test suites (YAML files or folders; default: the shipped suites).

    Exit code 1 when a case fails or errors, or when --compare finds a regression; 2 when a suite file
    or the baseline is invalid.
    """
    from bot.infra.logs import configure_logging
    from bot.kernel.errors import ConfigError
    from evals.compare import compare, load_baseline
    from evals.junit import write_junit
    from evals.reports import write_report

    configure_logging(level="error")
    show_progress = sys.stderr.isatty() if progress is None else progress
    to_stdout = json_out == "-"
    try:
        before = load_baseline(baseline) if baseline else None
        run = asyncio.run(_run(list(paths) or [SHIPPED_SUITES], project, url, token, concurrency, pattern, tags,
                               show_progress, voice))
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_INVALID)
    data = run.to_dict()
    comparison = compare(before, data) if before is not None else None
    if comparison is not None:
        data["comparison"] = comparison.to_dict()
    if junit:
        write_junit(run, junit)
    if report_dir:
        page = write_report(run, report_dir, comparison)
        click.echo(f"report: {page}", err=True)
    if json_out:
        text = json.dumps(data, indent=2, default=str)
        if to_stdout:
            click.echo(text)
        else:
            Path(json_out).write_text(text + "\n", encoding="utf-8")
    _echo_failures(run)
    counts = run.counts()
    skipped = sum(c.outcome.skipped for r in run.cases for c in r.checks)
    summary = (f"{len(run.cases)} cases: {counts['passed']} passed, {counts['failed']} failed, "
               f"{counts['error']} errors" + (f", {skipped} assertions skipped" if skipped else "")
               + f" ({run.duration_s:.1f} s)")
    click.echo("\n" + f" {summary} ".center(80, "="), err=to_stdout)
    _echo_metrics(run, to_stdout)
    if comparison is not None:
        click.echo("\nagainst the baseline:", err=to_stdout)
        for line in comparison.lines():
            click.echo(f"  {line}", err=to_stdout)
    if not run.cases:
        click.echo("no cases selected", err=True)
        sys.exit(EXIT_FAILED)
    if not run.passed or (comparison is not None and comparison.regressed):
        sys.exit(EXIT_FAILED)


@click.group(name="eval", cls=EvalGroup)
def eval_group() -> None:
    """Evaluate: conversation test suites (careline eval PATH...) and datasets (nlu, kb, guard)."""


for _name, _command in (("nlu", eval_nlu), ("kb", eval_kb), ("guard", eval_guard)):
    eval_group.add_command(_command, _name)
