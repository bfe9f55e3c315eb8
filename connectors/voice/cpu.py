"""Where a call's CPU goes: CPU seconds per voice component, for the benchmark's per-call profile.

Each component measures the CPU time of the thread its work runs on (``time.thread_time``) around the work
itself: Silero VAD, smart-turn, pocketsphinx and piper run their ONNX / C code on the calling thread (their
sessions use one intra-op thread), so that is all of their cost. CTranslate2 (Whisper) decodes on threads of its
own; they are found once, when the model is created (:func:`new_native_threads`), and read from
``/proc/self/task/<tid>/schedstat`` (nanoseconds of CPU) around each decode. The engine's share is what the
bridge's turn costs on the event loop thread plus its own worker threads, so it is measured as the rest: the
process's CPU minus the components (see ``benchmarks/voice/bench.py``).

Counters are process-wide and cheap (a lock and two additions per measurement); nothing reads them on the
call's path.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

PARTS = ("vad", "smart_turn", "stt_pocketsphinx", "stt_whisper", "tts_piper", "tts_espeak")


@dataclass(slots=True)
class CpuMeter:
    """CPU seconds and counts per component, summed over every call of the process."""

    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, part: str, seconds: float, count: int = 1) -> None:
        """Count ``seconds`` of CPU (and ``count`` runs) for ``part``."""
        with self._lock:
            self.seconds[part] = self.seconds.get(part, 0.0) + seconds
            self.counts[part] = self.counts.get(part, 0) + count

    @contextmanager
    def measure(self, part: str) -> Iterator[None]:
        """The calling thread's CPU time over the block, counted for ``part``."""
        started = time.thread_time()
        try:
            yield
        finally:
            self.add(part, time.thread_time() - started)

    def snapshot(self) -> dict[str, dict[str, float]]:
        """``{part: {"cpu_s": ..., "runs": ...}}`` so far."""
        with self._lock:
            return {part: {"cpu_s": round(self.seconds[part], 4), "runs": self.counts.get(part, 0)}
                    for part in sorted(self.seconds)}

    def reset(self) -> None:
        """Forget everything counted so far (between benchmark runs)."""
        with self._lock:
            self.seconds.clear()
            self.counts.clear()


#: The process's meter (one per process, like its models).
CPU = CpuMeter()


def thread_ids() -> set[int]:
    """The ids of the process's threads (Linux; empty elsewhere)."""
    try:
        return {int(name) for name in os.listdir("/proc/self/task")}
    except OSError:
        return set()


def threads_cpu_secs(ids: set[int] | frozenset[int]) -> float:
    """CPU seconds the threads ``ids`` have used so far (threads that ended count as 0)."""
    total = 0
    for tid in ids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat", encoding="ascii") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1e9


@contextmanager
def new_native_threads(found: set[int]) -> Iterator[None]:
    """Adds to ``found`` the threads started during the block (a native library's own workers)."""
    before = thread_ids()
    try:
        yield
    finally:
        found.update(thread_ids() - before)
