"""Compare a run with a baseline (the JSON of an earlier ``careline eval --json``).

A *regression* is a case that passed in the baseline and does not now, or a metric that moved the
wrong way by more than its tolerance; an *improvement* is the reverse. Only case and quality-metric
regressions make ``--compare`` fail the run. Cases only in one run are listed
as added or removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.kernel.errors import ConfigError, ConfigProblem
from evals.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER

#: How far a metric may move before it counts (absolute for shares, relative for latency).
SHARE_TOLERANCE = 0.005
LATENCY_TOLERANCE = 0.5
"""Latency must grow by half (and 5 ms) before it is a regression: timing on shared CI machines is noisy."""


@dataclass(frozen=True, slots=True)
class MetricChange:
    """One metric in both runs."""

    name: str
    before: float | None
    after: float | None
    verdict: str
    """``regression``, ``improvement`` or ``same``."""


@dataclass(slots=True)
class Comparison:
    """What changed between the baseline and this run."""

    regressions: list[str] = field(default_factory=list)
    """Case ids that passed before and do not now."""
    improvements: list[str] = field(default_factory=list)
    """Case ids that did not pass before and do now."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    metrics: list[MetricChange] = field(default_factory=list)

    @property
    def regressed(self) -> bool:
        """A case regressed or a quality metric fell (latency and turn counts are reported, never fatal:
        timing on shared machines is too noisy to fail a build on)."""
        return bool(self.regressions) or any(m.verdict == "regression" and m.name in HIGHER_IS_BETTER
                                             for m in self.metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "regressed": self.regressed,
            "regressions": self.regressions,
            "improvements": self.improvements,
            "added": self.added,
            "removed": self.removed,
            "metrics": [{"name": m.name, "before": m.before, "after": m.after, "verdict": m.verdict}
                        for m in self.metrics],
        }

    def lines(self) -> list[str]:
        """A human summary, one line per change."""
        out = [f"REGRESSION  {case}" for case in self.regressions]
        out += [f"improved    {case}" for case in self.improvements]
        for label, cases in (("added", self.added), ("removed", self.removed)):
            out += [f"{label:<11} {case}" for case in cases[:5]]
            if len(cases) > 5:
                out.append(f"{label:<11} ... and {len(cases) - 5} more")
        for m in self.metrics:
            if m.verdict != "same":
                label = "REGRESSION " if m.verdict == "regression" else "improved   "
                out.append(f"{label} {m.name}: {m.before} → {m.after}")
        return out or ["no change against the baseline"]


def load_baseline(path: Path) -> dict[str, Any]:
    """Read a baseline JSON file (raises :class:`ConfigError` naming the file when it is not one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError([ConfigProblem(path, None, None, f"cannot read baseline: {exc.strerror}")]) from exc
    except json.JSONDecodeError as exc:
        raise ConfigError([ConfigProblem(path, exc.lineno, None, f"not JSON: {exc.msg}")]) from exc
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise ConfigError([ConfigProblem(path, None, "cases", "not a careline eval --json result")])
    return data


def _metric_verdict(name: str, before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "same"
    delta = after - before
    if name in LOWER_IS_BETTER:
        if name.startswith("latency"):
            worse = delta > max(5.0, before * LATENCY_TOLERANCE)
            better = -delta > max(5.0, before * LATENCY_TOLERANCE)
        else:
            worse, better = delta > SHARE_TOLERANCE, -delta > SHARE_TOLERANCE
        return "regression" if worse else "improvement" if better else "same"
    if name in HIGHER_IS_BETTER:
        if delta < -SHARE_TOLERANCE:
            return "regression"
        return "improvement" if delta > SHARE_TOLERANCE else "same"
    return "same"


def compare(baseline: dict[str, Any], current: dict[str, Any]) -> Comparison:
    """Compare two run dicts (:meth:`~evals.results.RunResult.to_dict` shape)."""
    before = {c["id"]: c["status"] for c in baseline.get("cases", [])}
    after = {c["id"]: c["status"] for c in current.get("cases", [])}
    out = Comparison()
    for case_id, status in after.items():
        if case_id not in before:
            out.added.append(case_id)
        elif before[case_id] == "passed" and status != "passed":
            out.regressions.append(case_id)
        elif before[case_id] != "passed" and status == "passed":
            out.improvements.append(case_id)
    out.removed = [case_id for case_id in before if case_id not in after]
    old = baseline.get("metrics", {}).get("values", {})
    new = current.get("metrics", {}).get("values", {})
    for name in [*new, *(n for n in old if n not in new)]:
        out.metrics.append(MetricChange(name, old.get(name), new.get(name),
                                        _metric_verdict(name, old.get(name), new.get(name))))
    return out
