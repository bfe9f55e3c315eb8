"""The shared report of the dataset evaluations (``careline eval nlu|kb|guard --report DIR``).

Each run writes ``DIR/<kind>.json`` (the same object ``--json`` prints) and ``DIR/<kind>.md``, a
table of every metric, so dataset results land beside the suite reports and can be diffed in CI.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def report_option(command: F) -> F:
    """Add ``--report DIR`` to a dataset-eval click command (passed as ``report_dir``)."""
    return click.option(
        "--report", "report_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Also write DIR/<kind>.json and DIR/<kind>.md.",
    )(command)


def _rows(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            yield from _rows(value, f"{name}.")
        elif isinstance(value, (int, float, str, bool)) or value is None:
            yield name, value


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|")


def write_report(directory: Path, kind: str, data: Mapping[str, Any]) -> tuple[Path, Path]:
    """Write the JSON and Markdown report of one dataset evaluation; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{kind}.json"
    json_path.write_text(json.dumps(data, indent=2, default=str))
    lines = [f"# careline eval {kind}", "", f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')}.", "",
             "| metric | value |", "| --- | --- |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in _rows(data)]
    md_path = directory / f"{kind}.md"
    md_path.write_text("\n".join(lines) + "\n")
    return json_path, md_path
