"""The server's own stage histograms (``/metrics``, ops token): mean milliseconds per stage between two
scrapes, to say where a turn's time goes."""

from __future__ import annotations

import re
from typing import Any

import aiohttp

_LINE = re.compile(r'^careline_(stage|turn)_seconds_(sum|count)(?:\{stage="([^"]+)"\})?\s+([0-9.eE+-]+)$')


async def scrape(http: aiohttp.ClientSession, url: str, token: str) -> dict[str, tuple[float, float]]:
    """``{stage: (seconds summed, count)}`` with the whole turn under ``"turn"``; empty when unavailable."""
    try:
        async with http.get(url + "/metrics", headers={"Authorization": f"Bearer {token}"}) as resp:
            if resp.status != 200:
                return {}
            text = await resp.text()
    except aiohttp.ClientError:
        return {}
    sums: dict[str, list[float]] = {}
    for line in text.splitlines():
        match = _LINE.match(line)
        if match:
            kind, which, stage, value = match.groups()
            name = stage if kind == "stage" else "turn"
            pair = sums.setdefault(name or "turn", [0.0, 0.0])
            pair[0 if which == "sum" else 1] = float(value)
    return {name: (pair[0], pair[1]) for name, pair in sums.items()}


def stage_means(before: dict[str, tuple[float, float]], after: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """Mean ms per call of each stage (and of the whole turn) between ``before`` and ``after``, largest first;
    ``share_of_turn`` is the stage's total time over the turns' total."""
    rows = {}
    turn_total = after.get("turn", (0.0, 0.0))[0] - before.get("turn", (0.0, 0.0))[0]
    for name, (total, count) in after.items():
        base_total, base_count = before.get(name, (0.0, 0.0))
        calls = count - base_count
        if calls <= 0:
            continue
        spent = total - base_total
        rows[name] = {"mean_ms": round(spent / calls * 1000, 2), "calls": int(calls),
                      "share_of_turn": round(spent / turn_total, 3) if turn_total > 0 else None}
    return dict(sorted(rows.items(), key=lambda kv: -(kv[1]["share_of_turn"] or 0)))
