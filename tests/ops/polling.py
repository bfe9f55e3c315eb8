"""Waiting, in the ops tests, for something another worker (or a background task) does."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable


async def wait_for(check: Callable[[], Awaitable[bool]], *, within: float) -> None:
    """Poll ``check`` every 20 ms until it is true; fail with :class:`TimeoutError` after ``within`` seconds.

    ``within`` only bounds a test that would otherwise hang: how long the wait took is not a result.
    """
    async with asyncio.timeout(within):
        for _ in itertools.count():
            if await check():
                return
            await asyncio.sleep(0.02)
