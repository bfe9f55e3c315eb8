"""``careline kb ingest|query``: the knowledge base index (``careline eval kb`` lives in :mod:`evals.datasets`)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import click

from bot.kernel.errors import ConfigError


def _project_settings(project: Path) -> tuple[Any, Any]:
    """The project's knowledge and LLM settings (config.yml), or exit with its problems."""
    from bot.project import load_project

    try:
        loaded = load_project(project)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    return loaded.config.knowledge, loaded.config.llm


def _open(project: Path, *, progress: bool) -> Any:
    from tqdm import tqdm

    from bot.infra.embeddings import shared_embedder
    from bot.knowledge import KnowledgeBase

    config, llm = _project_settings(project)
    bar: tqdm[Any] | None = None

    def show(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, desc="embedding chunks", unit="vec", file=sys.stderr)
        bar.update(done - bar.n)

    try:
        kb = KnowledgeBase.open(project, config, embedder=shared_embedder(), llm=llm,
                                progress=show if progress else None)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    finally:
        if bar is not None:
            bar.close()
    return kb


@click.group()
def kb() -> None:
    """The knowledge base: ingest documents, query the index."""


@kb.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False, path_type=Path))
def ingest(project: Path) -> None:
    """Index PROJECT/knowledge (only new and changed files are embedded; deleted files leave the index)."""
    knowledge = _open(project, progress=True)
    report = knowledge.report
    click.echo(f"documents: {report.documents} (added {len(report.added)}, updated {len(report.updated)}, "
               f"removed {len(report.removed)}, unchanged {len(report.unchanged)})")
    click.echo(f"vectors: {report.vectors} ({report.index_kind} index), {report.seconds:.1f}s")
    for skipped in report.skipped:
        click.echo(f"skipped {skipped.path}: {skipped.reason}", err=True)


@kb.command()
@click.argument("project", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("question")
@click.option("--top-k", default=5, show_default=True, type=click.IntRange(1, 50))
@click.option("--context", "context", multiple=True, help="An earlier customer turn (repeat, oldest first).")
@click.option("--json", "as_json", is_flag=True, help="Print as JSON.")
def query(project: Path, question: str, top_k: int, context: tuple[str, ...], as_json: bool) -> None:
    """Print the chunks ranked for QUESTION (doc id, heading, score, text)."""
    knowledge = _open(project, progress=False)
    chunks = asyncio.run(knowledge.search(question, top_k=top_k, context=context))
    rows = [{"rank": i, "doc_id": c.doc_id, "title": c.title, "heading": c.heading, "anchor": c.anchor,
             "score": round(c.score, 4), "similarity": round(c.similarity, 4), "text": c.text}
            for i, c in enumerate(chunks, start=1)]
    if as_json:
        click.echo(json.dumps({"question": question, "threshold": knowledge.config.threshold, "results": rows},
                              indent=2))
        return
    for row in rows:
        click.echo(f"{row['rank']}. {row['score']:.3f} (sim {row['similarity']:.3f})  {row['doc_id']} › "
                   f"{row['heading']}")
        click.echo("   " + row["text"].replace("\n", "\n   ")[:400])
