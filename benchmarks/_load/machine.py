"""What the benchmark ran on: CPU model, the SIMD flags that matter to int8 inference, cores, load; and a
process's resident memory (psutil when installed, else ``/proc/<pid>/status``)."""

from __future__ import annotations

import os
import platform
import subprocess

FLAGS = ("avx512_vnni", "avx_vnni", "avx2")
"""CPU flags reported: VNNI speeds up onnxruntime's int8 matrix products; AVX2 is the usual baseline."""


def _cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    for line in out.splitlines():
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages (empty where the OS has none)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def describe() -> dict[str, object]:
    """The machine as JSON: model, flags present, logical cores, load averages when this was called."""
    flags = _cpu_flags()
    return {
        "cpu_model": _cpu_model(),
        "flags": {flag: flag in flags for flag in FLAGS},
        "cores": os.cpu_count() or 0,
        "load_average": load_average(),
        "python": platform.python_version(),
    }


def rss_mb(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB, or ``None`` when it cannot be read."""
    try:
        import psutil

        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - psutil's NoSuchProcess/AccessDenied: report unknown
        return None
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        return None
    return None


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used so far (``/proc/<pid>/stat``), or ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks
    except (OSError, ValueError, IndexError):
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (``/proc/<pid>/task/*/children``; just ``[pid]`` where that is unreadable)."""
    tree, queue = [], [pid]
    while queue:
        current = queue.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="utf-8") as handle:
                    queue.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return tree


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds used so far by ``pid`` and its live descendants (a supervisor and its workers)."""
    used = [cpu_seconds(p) for p in process_tree(pid)]
    known = [u for u in used if u is not None]
    return sum(known) if known else None


def tree_rss_mb(pid: int) -> list[float]:
    """Resident memory in MiB of each process of ``pid``'s tree that holds any (the supervisor's included)."""
    return [r for r in (rss_mb(p) for p in process_tree(pid)) if r is not None]
