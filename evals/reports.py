"""Human reports of a run: ``index.html`` (self-contained, inline SVG plots) and ``report.md``.

Both hold the metrics, a comparison with the baseline when one was given, the failed assertions with
their diffs, and every case's transcript.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from evals.compare import Comparison
from evals.plots import latency_histogram, metric_bars
from evals.results import CaseResult, RunResult, Status

_ICON = {Status.PASSED: "✓", Status.FAILED: "✗", Status.ERROR: "!"}


def format_value(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    if name.endswith("_ms") or name.startswith("turns"):
        return f"{value:g}"
    return f"{value:.1%}"


def _latencies(run: RunResult) -> list[float]:
    return [t.latency_ms for c in run.cases for t in c.turns]


def _summary(run: RunResult) -> str:
    counts = run.counts()
    return (f"{len(run.cases)} cases on {run.target}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['error']} errors in {run.duration_s:.1f} s")


def markdown(run: RunResult, comparison: Comparison | None = None) -> str:
    """The report as Markdown (plots referenced as ``metrics.svg`` and ``latency.svg``)."""
    values, support = run.metrics["values"], run.metrics["support"]
    out = ["# Careline eval report", "", _summary(run), "", "## Metrics", "", "| metric | value | n |",
           "|---|---|---|"]
    out += [f"| {name} | {format_value(name, v)} | {support.get(name, 0)} |" for name, v in values.items()]
    out += ["", "![metrics](metrics.svg)", "", "![turn latency](latency.svg)", ""]
    if comparison is not None:
        out += ["## Against the baseline", "", *(f"- {line}" for line in comparison.lines()), ""]
    failed = [c for c in run.cases if not c.passed]
    if failed:
        out += ["## Failures", ""]
        for result in failed:
            out += _failure_md(result)
    out += ["## Transcripts", ""]
    for result in run.cases:
        out += [f"### {_ICON[result.status]} {result.case.id}", ""]
        for turn in result.turns:
            intent = f" _(intent {turn.user.intent})_" if turn.user and turn.user.intent else ""
            heard = f" _(heard: {turn.user.text})_" if turn.user and turn.user.text != turn.user_text else ""
            out.append(f"- **customer:** {turn.user_text}{heard}{intent}")
            out += [f"  - **bot** `{m.response or '-'}`: {m.text}" for m in turn.bot]
            if turn.escalation is not None:
                out.append(f"  - _handed off: {turn.escalation.reason}_")
        out.append("")
    return "\n".join(out)


def _failure_md(result: CaseResult) -> list[str]:
    where = f" ({result.case.path}:{result.case.line})" if result.case.path else ""
    out = [f"### {result.case.id}{where}", ""]
    if result.error:
        out += [f"Error: `{result.error}`", ""]
    for check in result.failures:
        out += [f"- turn {check.turn + 1}, line {check.line}: **{check.outcome.assertion}**",
                f"  - expected: {check.outcome.expected}", f"  - actual: {check.outcome.actual}"]
        if check.outcome.diff:
            out += ["", "```diff", check.outcome.diff, "```"]
    out.append("")
    return out


def html(run: RunResult, comparison: Comparison | None = None) -> str:
    """The report as one self-contained HTML page."""
    values, support = run.metrics["values"], run.metrics["support"]
    rows = "".join(f"<tr><td>{escape(n)}</td><td>{format_value(n, v)}</td><td>{support.get(n, 0)}</td></tr>"
                   for n, v in values.items())
    parts = [
        "<!doctype html><html lang=en><meta charset=utf-8><title>Careline eval report</title>",
        "<style>body{font:14px system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:4px 8px}"
        ".passed{color:#2e7d32}.failed,.error{color:#c62828}pre{background:#f6f6f6;padding:8px;overflow:auto}"
        ".del{color:#c62828}.add{color:#2e7d32}.bot{color:#1565c0}details{margin:4px 0}</style>",
        f"<h1>Careline eval report</h1><p>{escape(_summary(run))}</p>",
        f"<h2>Metrics</h2><table><tr><th>metric<th>value<th>n</tr>{rows}</table>",
        f"<h3>Rates</h3>{metric_bars(values)}<h3>Turn latency</h3>{latency_histogram(_latencies(run))}",
    ]
    if comparison is not None:
        items = "".join(f"<li>{escape(line)}</li>" for line in comparison.lines())
        parts.append(f"<h2>Against the baseline</h2><ul>{items}</ul>")
    failed = [c for c in run.cases if not c.passed]
    if failed:
        parts.append("<h2>Failures</h2>")
        parts += [_failure_html(r) for r in failed]
    parts.append("<h2>Transcripts</h2>")
    parts += [_transcript_html(r) for r in run.cases]
    return "".join(parts) + "</html>"


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        cls = "del" if line.startswith("-") and not line.startswith("---") else (
            "add" if line.startswith("+") and not line.startswith("+++") else "")
        lines.append(f'<span class="{cls}">{escape(line)}</span>')
    return "<pre>" + "\n".join(lines) + "</pre>"


def _failure_html(result: CaseResult) -> str:
    where = f" <small>{escape(str(result.case.path))}:{result.case.line}</small>" if result.case.path else ""
    parts = [f'<h3 class="{result.status}">{escape(result.case.id)}{where}</h3>']
    if result.error:
        parts.append(f"<p>Error: <code>{escape(result.error)}</code></p>")
    for check in result.failures:
        parts.append(f"<p>turn {check.turn + 1}, line {check.line}: <b>{escape(check.outcome.assertion)}</b><br>"
                     f"expected: {escape(check.outcome.expected)}<br>actual: {escape(check.outcome.actual)}</p>")
        if check.outcome.diff:
            parts.append(_diff_html(check.outcome.diff))
    return "".join(parts)


def _transcript_html(result: CaseResult) -> str:
    lines = []
    for turn in result.turns:
        intent = f" <small>({escape(turn.user.intent)})</small>" if turn.user and turn.user.intent else ""
        if turn.user is not None and turn.user.text != turn.user_text:
            intent = f" <small>heard: {escape(turn.user.text)}</small>" + intent
        lines.append(f"<div><b>customer:</b> {escape(turn.user_text)}{intent}</div>")
        lines += [f'<div class="bot"><b>bot</b> <code>{escape(m.response or "-")}</code>: {escape(m.text)}</div>'
                  for m in turn.bot]
        if turn.escalation is not None:
            lines.append(f"<div><i>handed off: {escape(turn.escalation.reason)}</i></div>")
    status = str(result.status)
    return (f'<details{" open" if not result.passed else ""}><summary class="{status}">{_ICON[result.status]} '
            f"{escape(result.case.id)} — {status}</summary>{''.join(lines)}</details>")


def write_report(run: RunResult, directory: Path, comparison: Comparison | None = None) -> Path:
    """Write ``index.html``, ``report.md`` and the two SVG plots into ``directory``; returns the HTML path."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "metrics.svg").write_text(metric_bars(run.metrics["values"]), encoding="utf-8")
    (directory / "latency.svg").write_text(latency_histogram(_latencies(run)), encoding="utf-8")
    (directory / "report.md").write_text(markdown(run, comparison), encoding="utf-8")
    page = directory / "index.html"
    page.write_text(html(run, comparison), encoding="utf-8")
    return page
