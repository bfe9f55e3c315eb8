"""Per-conversation locks: in-process, and through Redis for several workers."""

from __future__ import annotations

import asyncio

from bot.locks import InProcessLocks, RedisLocks


async def _exclusive(locks_a: object, locks_b: object) -> tuple[list[str], int]:
    log: list[str] = []
    active = 0
    peak = 0

    async def worker(locks: object, name: str) -> None:
        nonlocal active, peak
        async with locks.hold("conv"):  # type: ignore[attr-defined]
            active += 1
            peak = max(peak, active)
            log.append(f"{name}-in")
            await asyncio.sleep(0.05)
            log.append(f"{name}-out")
            active -= 1

    await asyncio.gather(worker(locks_a, "a"), worker(locks_b, "b"), worker(locks_a, "c"))
    return log, peak


async def test_in_process_locks_exclude_and_clean_up() -> None:
    """Holders of one conversation's lock never overlap, and unused locks are forgotten."""
    locks = InProcessLocks()
    log, peak = await _exclusive(locks, locks)
    assert peak == 1 and len(log) == 6
    assert len(locks) == 0


async def test_redis_locks_exclude_across_workers(redis_url: str) -> None:
    """Two RedisLocks instances (as two workers would hold) never hold one conversation at once."""
    prefix = f"careline:test:{id(object())}:"
    worker_a = RedisLocks(redis_url, prefix=prefix)
    worker_b = RedisLocks(redis_url, prefix=prefix)
    try:
        log, peak = await _exclusive(worker_a, worker_b)
        assert peak == 1
        assert all(log[i].split("-")[0] == log[i + 1].split("-")[0] for i in range(0, 6, 2))
    finally:
        await worker_a.close()
        await worker_b.close()
