"""JUnit XML for CI: one ``<testsuite>`` per suite file, one ``<testcase>`` per case."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from evals.results import CaseResult, RunResult, Status


def failure_text(result: CaseResult) -> str:
    """Every failed assertion with its turn, file line, expectation, what happened and the diff."""
    lines = []
    for check in result.failures:
        where = f"{result.case.path}:{check.line}" if result.case.path and check.line else f"turn {check.turn + 1}"
        user = result.turns[check.turn].user_text if check.turn < len(result.turns) else ""
        lines.append(f"{where} (turn {check.turn + 1}, user: {user!r}) {check.outcome.assertion}")
        lines.append(f"  expected: {check.outcome.expected}")
        lines.append(f"  actual:   {check.outcome.actual}")
        if check.outcome.diff:
            lines.extend("  " + line for line in check.outcome.diff.splitlines())
    return "\n".join(lines)


def transcript_text(result: CaseResult) -> str:
    """The conversation as text (for ``system-out``)."""
    lines = []
    for turn in result.turns:
        lines.append(f"user: {turn.user_text}")
        lines.extend(f"bot:  {m.text}" for m in turn.bot)
    return "\n".join(lines)


def to_xml(run: RunResult) -> ET.Element:
    """The run as a ``<testsuites>`` element."""
    root = ET.Element("testsuites", name="careline-eval", tests=str(len(run.cases)),
                      failures=str(run.counts()["failed"]), errors=str(run.counts()["error"]),
                      time=f"{run.duration_s:.3f}")
    by_suite: dict[str, list[CaseResult]] = {}
    for result in run.cases:
        by_suite.setdefault(result.case.suite, []).append(result)
    for suite, results in by_suite.items():
        node = ET.SubElement(root, "testsuite", name=suite, tests=str(len(results)),
                             failures=str(sum(r.status is Status.FAILED for r in results)),
                             errors=str(sum(r.status is Status.ERROR for r in results)), skipped="0",
                             time=f"{sum(r.duration_ms for r in results) / 1000:.3f}")
        for result in results:
            case = ET.SubElement(node, "testcase", classname=suite, name=result.case.name,
                                 time=f"{result.duration_ms / 1000:.3f}")
            if result.case.path is not None:
                case.set("file", str(result.case.path))
                if result.case.line is not None:
                    case.set("line", str(result.case.line))
            skipped = [c for c in result.checks if c.outcome.skipped]
            if skipped:
                properties = ET.SubElement(case, "properties")
                for check in skipped:
                    ET.SubElement(properties, "property", name=f"skipped:{check.outcome.assertion}",
                                  value=f"line {check.line}: {check.outcome.actual}")
            if result.status is Status.FAILED:
                first = result.failures[0].outcome
                failure = ET.SubElement(case, "failure", type=first.assertion,
                                        message=f"{len(result.failures)} assertion(s) failed; first: "
                                                f"expected {first.expected}")
                failure.text = failure_text(result)
            elif result.status is Status.ERROR:
                error = ET.SubElement(case, "error", type="error", message=result.error or "")
                error.text = result.error
            if result.turns:
                ET.SubElement(case, "system-out").text = transcript_text(result)
    return root


def write_junit(run: RunResult, path: Path) -> None:
    """Write the run's JUnit XML to ``path`` (folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(to_xml(run))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
