"""The independent development set of issue #16 (evals/data/conversations/dev) keeps its measured pass rate."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from evals.loader import load_suites
from evals.runner import run_suites
from evals.targets import InProcessTarget

DEV = Path(__file__).parents[2] / "evals" / "data" / "conversations" / "dev"

#: Passing cases per category on the demo (Dec 2026, after the time and name chooser); fewer is a regression.
FLOORS = {"cancel": 5, "choices": 9, "confirmations": 7, "formats": 14, "hard_negatives": 8, "memory": 3,
          "offers": 7, "openings": 8, "out_of_scope": 9, "refusals": 9, "switching": 4}


async def test_the_dev_set_keeps_its_floor(runtime: Any) -> None:
    """At least 105 conversations run, each category passes at least its measured floor, and 79 % pass overall."""
    result = await run_suites(load_suites([DEV]), InProcessTarget.for_runtime(runtime), concurrency=1)
    assert len(result.cases) >= 105
    passed = Counter(c.case.suite for c in result.cases if c.passed)
    below = {name: passed[name] for name, floor in FLOORS.items() if passed[name] < floor}
    assert not below, f"categories below their floor: {below} (floors {FLOORS})"
    assert sum(passed.values()) / len(result.cases) >= 0.79
