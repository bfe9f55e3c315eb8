"""Tiny SVG charts for reports (no plotting library needed): metric bars and a latency histogram."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from evals.metrics import HIGHER_IS_BETTER

_FONT = 'font-family="system-ui, sans-serif" font-size="12"'
#: Rates that describe the suite's mix rather than the bot's quality (drawn in a neutral colour).
DESCRIPTIVE = frozenset({"containment", "knowledge_answer_rate"})


def metric_bars(values: dict[str, float | None], *, width: int = 560) -> str:
    """Horizontal bars for the share metrics (0..100 %); metrics without a value show "n/a"."""
    names = [n for n in values if n in HIGHER_IS_BETTER]
    row, label_w, bar_w = 24, 170, width - 230
    height = row * len(names) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="metrics">']
    for i, name in enumerate(names):
        y = 5 + i * row
        value = values[name]
        parts.append(f'<text x="0" y="{y + 15}" {_FONT}>{escape(name)}</text>')
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" fill="#eee"/>')
        if value is None:
            parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 15}" {_FONT} fill="#888">n/a</text>')
            continue
        colour = "#1565c0" if name in DESCRIPTIVE else "#2e7d32" if value >= 0.9 else "#f9a825" if value >= 0.7 \
            else "#c62828"
        parts.append(f'<rect x="{label_w}" y="{y + 3}" width="{bar_w * max(0.0, min(1.0, value)):.1f}" '
                     f'height="16" fill="{colour}"/>')
        parts.append(f'<text x="{label_w + bar_w + 8}" y="{y + 15}" {_FONT}>{value:.1%}</text>')
    parts.append("</svg>")
    return "".join(parts)


def latency_histogram(latencies_ms: Sequence[float], *, bins: int = 12, width: int = 560, height: int = 160) -> str:
    """A histogram of turn latencies with the bin edges in milliseconds."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="latency histogram">']
    if not latencies_ms:
        parts.append(f'<text x="10" y="20" {_FONT}>no turns</text></svg>')
        return "".join(parts)
    low, high = min(latencies_ms), max(latencies_ms)
    span = (high - low) or 1.0
    counts = [0] * bins
    for value in latencies_ms:
        counts[min(bins - 1, int((value - low) / span * bins))] += 1
    top = max(counts)
    plot_h, base = height - 40, height - 25
    bar = (width - 20) / bins
    for i, count in enumerate(counts):
        h = plot_h * count / top
        x = 10 + i * bar
        parts.append(f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{bar - 2:.1f}" height="{h:.1f}" fill="#1565c0">'
                     f'<title>{count} turn(s) from {low + span * i / bins:.1f} ms</title></rect>')
        if count:
            parts.append(f'<text x="{x + bar / 2 - 4:.1f}" y="{base - h - 3:.1f}" {_FONT}>{count}</text>')
    parts.append(f'<text x="10" y="{height - 8}" {_FONT}>{low:.1f} ms</text>')
    parts.append(f'<text x="{width - 80}" y="{height - 8}" {_FONT}>{high:.1f} ms</text>')
    parts.append("</svg>")
    return "".join(parts)
