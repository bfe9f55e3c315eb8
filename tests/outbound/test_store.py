"""The campaign store on SQLite and PostgreSQL for real: the lease, at-most-once claims under concurrency, and
a scheduler restart that neither loses nor repeats an attempt."""

from __future__ import annotations

import asyncio

from bot.flows.backend import DemoBackend
from bot.outbound import FrozenClock, OutboundContact, OutboundService, OutboundStore
from bot.storage import open_database
from tests.outbound.conftest import APPOINTMENT_DAY, THURSDAY_10AM


class Recorder:
    """A channel that records what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, contact: OutboundContact) -> str:
        self.sent.append(contact.target.id)
        return f"SM{len(self.sent)}"


async def test_the_lease_has_one_holder_until_it_lapses(database_url: str) -> None:
    """A second holder is refused while the lease runs, renews nothing, and takes over once it lapsed."""
    db = await open_database(database_url)
    try:
        store = OutboundStore(db)
        await store.setup()
        assert await store.acquire_lease("l", "a", 100.0, 30)
        assert not await store.acquire_lease("l", "b", 110.0, 30)
        assert await store.acquire_lease("l", "a", 120.0, 30)  # the holder renews
        assert not await store.acquire_lease("l", "b", 149.0, 30)
        assert await store.acquire_lease("l", "b", 151.0, 30)
        assert not await store.acquire_lease("l", "a", 152.0, 30)
    finally:
        await db.close()


async def test_concurrent_claims_of_one_attempt_make_it_once(database_url: str) -> None:
    """Eight simultaneous claims of the same target's next attempt: exactly one gets it."""
    db = await open_database(database_url)
    try:
        service = OutboundService(OutboundStore(db), DemoBackend.from_seed_file(), clock=FrozenClock(THURSDAY_10AM))
        await service.setup()
        campaign = await service.create({"kind": "appointments", "channel": "sms", "day": APPOINTMENT_DAY})
        [target] = await service.store.targets(campaign.id)
        claims = await asyncio.gather(*(service.store.claim_attempt(target, "sms", THURSDAY_10AM) for _ in range(8)))
        assert len([c for c in claims if c is not None]) == 1
        assert len(await service.store.attempts(campaign.id)) == 1
    finally:
        await db.close()


async def test_a_restarted_scheduler_goes_on_without_repeating(database_url: str) -> None:
    """A campaign created before a restart is run by the new process; an attempt made before it is not made
    again, and the next one waits for the retry spacing stored with the campaign."""
    clock = FrozenClock(THURSDAY_10AM)
    first = Recorder()
    db = await open_database(database_url)
    service = OutboundService(OutboundStore(db), DemoBackend.from_seed_file(), clock=clock, senders={"sms": first})
    await service.setup()
    campaign = await service.create({"kind": "appointments", "channel": "sms", "day": "2026-11-30"})
    await db.close()  # the process stops before any tick

    second = Recorder()
    db = await open_database(database_url)
    try:
        restarted = OutboundService(OutboundStore(db), DemoBackend.from_seed_file(), clock=clock,
                                    senders={"sms": second})
        await restarted.setup()
        clock.set(THURSDAY_10AM + 5 * 3600)  # 15:00 London = 10:00 in New York, where Grace (P2002) lives
        assert [a.target_id for a in await restarted.tick()] == ["P2002"]
        clock.advance(60)
        assert await restarted.tick() == []
        assert second.sent == ["P2002"] and first.sent == []
        assert (await restarted.view(campaign.id))["outcomes"] == {"sent": 1}
    finally:
        await db.close()


async def test_a_campaign_reads_its_targets_from_a_backend_over_http() -> None:
    """The HTTP backend protocol's outbound endpoints (appointments by day, delayed orders, contact) feed a
    campaign exactly as the demo backend does in process."""
    from bot.flows.backend import HttpBackend
    from bot.flows.backend.server import create_backend_app
    from bot.testing.server import serve_app

    async with serve_app(create_backend_app(DemoBackend.from_seed_file())) as url:
        backend = HttpBackend(url)
        db = await open_database("sqlite:///:memory:")
        try:
            service = OutboundService(OutboundStore(db), backend, clock=FrozenClock(THURSDAY_10AM + 86400))
            await service.setup()
            calls = await service.create({"kind": "appointments", "channel": "voice", "day": APPOINTMENT_DAY})
            [target] = await service.store.targets(calls.id)
            assert (target.id, target.phone, target.timezone) == ("P2001", "+442079460011", "Europe/London")
            notices = await service.create({"kind": "delayed_orders", "channel": "sms"})
            assert "A1001" in [t.id for t in await service.store.targets(notices.id)]
            assert await backend.contact("C999") is None
        finally:
            await backend.close()
            await db.close()
