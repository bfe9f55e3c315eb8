"""Latency summaries: percentiles in milliseconds, and the ratio of each to the floor."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float | None]:
    """p50/p95/p99 of ``seconds`` in milliseconds (``None`` each when there are no samples)."""
    if not seconds:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    values = np.asarray(seconds, dtype=np.float64) * 1000
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2), "p99_ms": round(float(p99), 2)}


def with_ratios(figures: dict[str, float | None], floor_ms: float) -> dict[str, float | None]:
    """``figures`` plus ``<name>_x_floor`` for each ``*_ms`` figure (its multiple of ``floor_ms``)."""
    out = dict(figures)
    for name, value in figures.items():
        if name.endswith("_ms") and value is not None and floor_ms > 0:
            out[name[:-3] + "_x_floor"] = round(value / floor_ms, 2)
    return out
