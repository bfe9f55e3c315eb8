"""Analytics: KPIs derived from 100 % of conversation events, and live Prometheus metrics.

```python
from bot.analytics import compute_kpis, window
report = await compute_kpis(runtime.database, window("7d", until=time.time()))
report.overall.containment_rate
```
"""

from bot.analytics.kpis import KpiConfig, KpiReport, KpiSet, build_report, compute_kpis
from bot.analytics.windows import CONSOLE_WINDOWS, BadWindow, Window, parse_duration, window

__all__ = [
    "CONSOLE_WINDOWS",
    "BadWindow",
    "KpiConfig",
    "KpiReport",
    "KpiSet",
    "Window",
    "build_report",
    "compute_kpis",
    "parse_duration",
    "window",
]
