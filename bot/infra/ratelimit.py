"""Rate limits keyed by who is sending (a client source, a conversation), shared by every worker.

Each key has a token bucket, kept as one number: the "theoretical arrival time" of the generic cell rate
algorithm (GCRA). A :class:`Rate` of ``per_minute`` with ``burst`` lets ``burst`` messages through at once,
then one every ``60 / per_minute`` seconds. A refused attempt spends nothing, so a client that keeps
knocking is let in again as soon as its bucket has a token.

:class:`LocalLimiter` keeps the buckets in this process. :class:`RedisLimiter` keeps them in Redis (one
atomic Lua script on Redis's own clock), so a client spreading its messages over several workers is
counted once. When Redis fails or stalls, the Redis limiter falls back to its in-process buckets and logs
``rate_limiter_degraded`` once (and ``rate_limiter_recovered`` when Redis answers again): chat stays
available, limited per worker instead of across workers, rather than failing closed for everyone.
"""

from __future__ import annotations

import abc
import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.infra.logs import get_logger
from bot.kernel.errors import RateLimited

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Rate:
    """``burst`` messages at once, then ``per_minute`` messages a minute."""

    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.burst < 1:
            raise ValueError(f"a rate needs per_minute and burst of 1 or more, got {self.per_minute}/{self.burst}")

    @property
    def interval(self) -> float:
        """Seconds between two messages at the steady rate."""
        return 60.0 / self.per_minute


class Limiter(abc.ABC):
    """Token buckets by key: :meth:`acquire` spends one token or says how long to wait."""

    @abc.abstractmethod
    async def acquire(self, key: str, rate: Rate) -> float | None:
        """``None`` when ``key`` may send now (one token spent), else seconds until it may."""

    async def check(self, key: str, rate: Rate, reason: str) -> None:
        """Spend one token of ``key`` or raise :class:`~bot.kernel.errors.RateLimited` with ``reason``."""
        wait = await self.acquire(key, rate)
        if wait is not None:
            raise RateLimited(reason, retry_after=max(1.0, math.ceil(wait)))

    async def close(self) -> None:
        """Release connections."""


class LocalLimiter(Limiter):
    """Buckets in this process, at most ``size`` keys (the least recently used are forgotten)."""

    def __init__(self, *, size: int = 100_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self._tat: OrderedDict[str, float] = OrderedDict()

    def take(self, key: str, rate: Rate) -> float | None:
        """The synchronous :meth:`acquire`."""
        now = self.clock()
        tat = max(self._tat.get(key, now), now)
        allowed_at = tat + rate.interval - rate.burst * rate.interval
        if now < allowed_at:
            return allowed_at - now
        self._tat[key] = tat + rate.interval
        self._tat.move_to_end(key)
        if len(self._tat) > self.size:
            self._tat.popitem(last=False)
        return None

    async def acquire(self, key: str, rate: Rate) -> float | None:
        return self.take(key, rate)

    def __len__(self) -> int:
        return len(self._tat)


#: GCRA on Redis's clock. KEYS[1]: the bucket; ARGV: interval (s), burst. Returns {allowed, wait}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = now
local stored = redis.call('GET', KEYS[1])
if stored then tat = math.max(tonumber(stored), now) end
local allowed_at = tat + interval - burst * interval
if now < allowed_at then return {0, tostring(allowed_at - now)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return {1, '0'}
"""


class RedisLimiter(Limiter):
    """Buckets in Redis shared by every worker; in-process buckets while Redis fails or stalls."""

    def __init__(self, url: str, *, prefix: str = "careline:rate:", timeout: float = 0.5,
                 fallback: LocalLimiter | None = None) -> None:
        import redis.asyncio as redis

        self._redis = redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script: Any = self._redis.register_script(_GCRA)
        self.prefix = prefix
        self.timeout = timeout
        self.fallback = fallback or LocalLimiter()
        self.degraded = False

    async def acquire(self, key: str, rate: Rate) -> float | None:
        import redis.exceptions

        try:
            async with asyncio.timeout(self.timeout):
                allowed, wait = await self._script(keys=[self.prefix + key], args=[rate.interval, rate.burst])
        except (redis.exceptions.RedisError, OSError, TimeoutError) as exc:
            if not self.degraded:
                self.degraded = True
                log.warning("rate_limiter_degraded", error=str(exc) or type(exc).__name__,
                            fallback="in-process limits until Redis answers")
            return self.fallback.take(key, rate)
        if self.degraded:
            self.degraded = False
            log.info("rate_limiter_recovered")
        return None if int(allowed) else float(wait)

    async def close(self) -> None:
        await self._redis.aclose()


def make_limiter(redis_url: str | None) -> Limiter:
    """Shared buckets in Redis when ``redis_url`` is set, else in this process."""
    return RedisLimiter(redis_url) if redis_url else LocalLimiter()
