"""Per-conversation locks: in-process, and through Redis for several workers (leases renewed by their
holder, freed within a lease when the holder dies, fenced when lost)."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as redis

from bot.infra.locks import ConversationLocks, InProcessLocks, LockLost, RedisLocks
from bot.kernel.errors import StoreError


async def _exclusive(locks_a: ConversationLocks, locks_b: ConversationLocks) -> tuple[list[str], int]:
    log: list[str] = []
    active = 0
    peak = 0

    async def worker(locks: ConversationLocks, name: str) -> None:
        nonlocal active, peak
        async with locks.hold("conv"):
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


def _prefix() -> str:
    return f"careline:test:{uuid.uuid4().hex}:"


async def test_a_dead_holders_lock_frees_within_its_lease(redis_url: str) -> None:
    """A lock whose holder stopped renewing it (a killed worker) is free again within the lease, not after
    a long fixed timeout."""
    prefix = _prefix()
    admin = redis.from_url(redis_url)
    locks = RedisLocks(redis_url, prefix=prefix, lease=1.0, wait=10.0)
    try:
        await admin.set(prefix + "conv", "a-worker-that-died", px=1000)  # held, and nobody renews it
        began = time.monotonic()
        async with locks.hold("conv"):
            waited = time.monotonic() - began
        assert 0.5 < waited < 3
    finally:
        await admin.aclose()
        await locks.close()


async def test_a_live_holder_renews_its_lease_for_as_long_as_its_turn_runs(redis_url: str) -> None:
    """A turn three leases long keeps the conversation: another worker cannot take it meanwhile."""
    prefix = _prefix()
    worker_a = RedisLocks(redis_url, prefix=prefix, lease=0.6, wait=10.0)
    worker_b = RedisLocks(redis_url, prefix=prefix, lease=0.6, wait=0.5)
    try:
        async with worker_a.hold("conv") as lease:
            await asyncio.sleep(1.8)
            with pytest.raises(StoreError, match="stayed locked"):
                async with worker_b.hold("conv"):
                    pass
            await lease.check()
    finally:
        await worker_a.close()
        await worker_b.close()


async def test_a_holder_that_lost_its_lease_is_fenced_off(redis_url: str) -> None:
    """When another worker took the conversation (the lease ran out), the old holder's check before
    committing raises LockLost, and the new holder is not disturbed by the old one's release."""
    prefix = _prefix()
    admin = redis.from_url(redis_url)
    worker_a = RedisLocks(redis_url, prefix=prefix, lease=5.0)
    try:
        async with worker_a.hold("conv") as lease:
            await admin.set(prefix + "conv", "worker-b-token", px=5000)  # A's lease expired; B took over
            with pytest.raises(LockLost):
                await lease.check()
        assert await admin.get(prefix + "conv") == b"worker-b-token"
    finally:
        await admin.delete(prefix + "conv")
        await admin.aclose()
        await worker_a.close()


async def test_redis_down_is_a_store_error(redis_url: str) -> None:
    """Locks on an unreachable Redis raise StoreError (HTTP 503), never a driver exception."""
    locks = RedisLocks("redis://127.0.0.1:9/0", prefix=_prefix(), timeout=0.5)
    try:
        with pytest.raises(StoreError):
            async with locks.hold("conv"):
                pass
        with pytest.raises(StoreError):
            await locks.ping()
    finally:
        await locks.close()
