"""Verification holds up against guessing across conversations, and does not last forever.

The bot here is the demo project's engine driven directly (``engine.handle``), with the flow runner wired as
:func:`bot.flows.setup.flow_runner` wires it on a database, and a clock the tests move forward.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from bot.app.runtime import default_stages
from bot.flows.backend.base import Order
from bot.flows.backend.demo import DemoBackend
from bot.flows.lockout import Lockout, MemoryLockout, StoredLockout
from bot.flows.runner import FlowRunner
from bot.flows.setup import flow_runner
from bot.infra.settings import Settings
from bot.kernel.messages import UserMessage
from bot.nlu.understander import Understander
from bot.pipeline.engine import Engine
from bot.pipeline.stages import Dialogue
from bot.project import Project
from bot.project.schema import AuthConfig
from bot.storage import ConversationStore, Database, open_database

ATTACKER = "ip:203.0.113.7"
OTHER = "ip:198.51.100.9"
RIGHT, WRONG = "10 December 1985", "1 January 1980"
NEUTRAL = "Sorry, those details don't match our records."


class Clock:
    """The wall clock plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class Bot:
    """The demo bot on one database; ``say`` sends one message as ``source`` and returns the replies' texts."""

    engine: Engine
    runner: FlowRunner
    backend: DemoBackend
    clock: Clock
    conversations: int = 0
    transcripts: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    async def say(self, conversation: str, text: str, *, source: str = ATTACKER, channel: str = "rest") -> str:
        replies = await self.engine.handle(conversation, UserMessage(text, channel, source=source))
        said = "\n".join(r.text for r in replies)
        self.transcripts.setdefault(conversation, []).append((text, said))
        return said

    def new_conversation(self) -> str:
        self.conversations += 1
        return f"conversation-{self.conversations}"

    async def attempt(self, proofs: list[str], *, source: str = ATTACKER, identifier: str = "ada@example.com",
                      conversation: str | None = None) -> str:
        """A fresh conversation asking for an order that gives ``identifier`` then each proof in turn."""
        conversation = conversation or self.new_conversation()
        await self.say(conversation, "where is my order", source=source)
        for proof in proofs:
            await self.say(conversation, identifier, source=source)
            await self.say(conversation, proof, source=source)
        return conversation

    async def slots(self, conversation: str) -> dict[str, Any]:
        return (await self.engine.state(conversation)).slots

    @property
    def lockout(self) -> Lockout:
        lockout = self.runner.lockout
        assert isinstance(lockout, Lockout)
        return lockout

    async def order(self, order_id: str) -> Order:
        """The order ``order_id`` as the demo backend has it now."""
        found = await self.backend.get_order(order_id)
        assert found is not None
        return found


async def open_bot(project: Project, understander: Understander, database: Database, *,
                   clock: Clock | None = None, lockout: Lockout | None = None, secret: bytes = b"k" * 32) -> Bot:
    """The demo bot on ``database``; workers built with the same ``secret`` agree on client pseudonyms."""
    clock = clock or Clock()
    backend = DemoBackend.from_seed_file()
    runner = flow_runner(project, backend, database=database, lockout=lockout, clock=clock)
    stages = [Dialogue(runner) if stage.name == "dialogue" else stage
              for stage in default_stages(project, understander, None, backend=backend)]
    store = ConversationStore(database)
    await store.setup()
    settings = Settings(secret=secret, secret_generated=False)
    return Bot(Engine(project, store, stages, client_key=settings.client_key), runner, backend, clock)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = await open_database(f"sqlite:///{tmp_path / 'auth.db'}")
    yield db
    await db.close()


@pytest.fixture
async def bot(demo_project: Project, understander: Understander, database: Database) -> Bot:
    """The demo bot whose lockout lives in the conversation database."""
    return await open_bot(demo_project, understander, database)


# --- brute force across conversations ---------------------------------------------------------------------


async def test_guessing_across_conversations_locks_the_account(bot: Bot) -> None:
    """4 conversations × 3 wrong dates of birth, then the right one in a 5th conversation: not verified; a
    different client source is refused too while the account is locked; after the cooldown it works."""
    for _ in range(4):
        await bot.attempt([WRONG] * 3)
    fifth = await bot.attempt([RIGHT])
    assert not (await bot.slots(fifth)).get("authenticated")
    assert "verified" not in bot.transcripts[fifth][-1][1] and NEUTRAL in bot.transcripts[fifth][-1][1]

    elsewhere = await bot.attempt([RIGHT], source=OTHER)
    assert not (await bot.slots(elsewhere)).get("authenticated")

    bot.clock.offset += AuthConfig().lockout_seconds + 1
    later = await bot.attempt([RIGHT], source=OTHER)
    assert (await bot.slots(later))["authenticated"] is True
    assert "you're verified" in bot.transcripts[later][-1][1]


async def test_one_client_source_guessing_many_accounts_is_locked(bot: Bot) -> None:
    """A source that fails ``max_failures_per_client`` times over several accounts is refused even with the
    right proof for another account, while a different source still verifies that account."""
    accounts = ["grace@example.com", "alan@example.com", "katherine@example.com", "nobody@example.com"]
    failures = 0
    while failures < AuthConfig().max_failures_per_client:
        identifier = accounts[(failures // 3) % len(accounts)]
        tries = min(3, AuthConfig().max_failures_per_client - failures)
        await bot.attempt([WRONG] * tries, identifier=identifier)
        failures += tries
    locked = await bot.attempt([RIGHT])
    assert not (await bot.slots(locked)).get("authenticated")
    other = await bot.attempt([RIGHT], source=OTHER)
    assert (await bot.slots(other))["authenticated"] is True
    assert [lock.kind for lock in await bot.lockout.locks()] == ["client"]


async def test_a_locked_account_hears_what_an_unknown_identifier_and_a_wrong_proof_hear(bot: Bot) -> None:
    """The replies to a locked account's right proof, a wrong proof and an unknown identifier are identical."""
    for _ in range(2):
        await bot.attempt([WRONG] * 3, identifier="alan@example.com", source="ip:192.0.2.1")
    assert await bot.lockout.locked("C003", None) is not None

    locked = await bot.attempt(["23 June 1990"], identifier="alan@example.com", source="ip:192.0.2.2")
    wrong = await bot.attempt([WRONG], identifier="grace@example.com", source="ip:192.0.2.3")
    unknown = await bot.attempt([WRONG], identifier="nobody@example.com", source="ip:192.0.2.4")

    replies = [[reply for _, reply in bot.transcripts[c]] for c in (locked, wrong, unknown)]
    assert replies[0] == replies[1] == replies[2]
    assert NEUTRAL in replies[0][-1]
    assert not (await bot.slots(locked)).get("authenticated")


async def test_a_lock_is_audited_without_proof_values(bot: Bot) -> None:
    """Locking an account writes an audit row and a ``verification_locked`` warning naming the customer and the
    client pseudonym, with no date of birth anywhere in the log."""
    await bot.attempt([WRONG] * 3)
    with capture_logs() as logs:
        await bot.attempt([WRONG] * 2)
    client = bot.engine.client_of(UserMessage("x", source=ATTACKER))
    locked = [e for e in logs if e["event"] == "verification_locked"]
    assert len(locked) == 1
    assert locked[0]["customer_id"] == "C001" and locked[0]["client"] == client
    assert locked[0]["log_level"] == "warning"
    assert not any("1980" in repr(event) for event in logs)
    rows = await bot.lockout.locks()
    assert [(r.kind, r.subject, r.client, r.failures) for r in rows] == [("customer", "C001", client, 5)]
    assert ATTACKER not in repr(rows)


async def test_attempts_while_locked_do_not_prolong_the_cooldown(bot: Bot) -> None:
    """Failures while an account is locked are not counted, so the lock ends ``lockout_seconds`` after it
    was set."""
    for _ in range(2):
        await bot.attempt([WRONG] * 3)
    bot.clock.offset += 600
    await bot.attempt([WRONG] * 3, source=OTHER)
    bot.clock.offset += AuthConfig().lockout_seconds - 600 + 1
    later = await bot.attempt([RIGHT], source="ip:192.0.2.9")
    assert (await bot.slots(later))["authenticated"] is True


async def test_the_conversation_still_locks_after_max_attempts(bot: Bot) -> None:
    """Per conversation, ``auth.max_attempts`` failures still lock verification and hand over to a person."""
    conversation = await bot.attempt([WRONG] * AuthConfig().max_attempts, identifier="grace@example.com")
    state = await bot.engine.state(conversation)
    assert state.slots["auth_locked"] is True
    assert state.escalation is not None and state.escalation.reason == "auth_failed"


async def test_the_lockout_policy_follows_the_config() -> None:
    """A memory lockout with small limits locks the customer at its limit and forgets after the cooldown."""
    clock = Clock()
    lockout = MemoryLockout(AuthConfig(max_failures_per_customer=2, max_failures_per_client=50,
                                       lockout_seconds=60), clock=clock)
    assert await lockout.failed("C001", "a") == []
    assert [lock.kind for lock in await lockout.failed("C001", "b")] == ["customer"]
    assert await lockout.locked("C001", "z") is not None
    assert await lockout.locked("C002", "a") is None
    clock.offset += 61
    assert await lockout.locked("C001", "z") is None
    assert await lockout.failed("C001", "a") == []


async def test_stored_failures_outside_the_window_are_forgotten(database: Database) -> None:
    """Failures older than ``lockout_seconds`` neither count toward a lock nor stay in the table."""
    clock = Clock()
    lockout = StoredLockout(database, AuthConfig(max_failures_per_customer=3, lockout_seconds=60), clock=clock)
    for _ in range(2):
        await lockout.failed("C001", "a")
    clock.offset += 61
    assert await lockout.failed("C001", "b") == []
    assert await database.fetchval("SELECT COUNT(*) AS n FROM careline_auth_failures") == 1
    assert await lockout.locked("C001", None) is None


async def test_workers_sharing_postgresql_share_the_lock(demo_project: Project, understander: Understander,
                                                         pg_url: str) -> None:
    """Two bots on separate database pools of one PostgreSQL: failures on one lock the account on the other."""
    first_db, second_db = await open_database(pg_url), await open_database(pg_url)
    try:
        first = await open_bot(demo_project, understander, first_db)
        second = await open_bot(demo_project, understander, second_db)
        await first.attempt([WRONG] * 3)
        await second.attempt([WRONG] * 2, conversation="on-second")
        refused = await first.attempt([RIGHT], source=OTHER, conversation="refused-on-first")
        assert not (await first.slots(refused)).get("authenticated")
        assert [lock.subject for lock in await first.lockout.locks()] == ["C001"]

        standalone = StoredLockout(second_db, demo_project.config.auth)
        assert await standalone.locked("C001", None) is not None
    finally:
        await first_db.close()
        await second_db.close()


# --- sessions: expiry and step-up ------------------------------------------------------------------------


async def verified(bot: Bot, conversation: str = "session") -> str:
    """A conversation where Ada verified (and heard order A1001's status)."""
    await bot.attempt([RIGHT], conversation=conversation)
    await bot.say(conversation, "A1001")
    assert (await bot.slots(conversation))["authenticated"] is True
    return conversation


async def test_verification_expires_after_the_session_ttl(bot: Bot) -> None:
    """After ``auth.session_ttl`` of silence the next account question asks for verification again."""
    conversation = await verified(bot)
    bot.clock.offset += AuthConfig().session_ttl + 1
    with capture_logs() as logs:
        reply = await bot.say(conversation, "what's in my order A1002?")
    assert "Arc floor lamp" not in reply
    assert "To verify, please tell me your date of birth" in reply  # A1002 identifies; a proof is asked again
    slots = await bot.slots(conversation)
    assert not slots["authenticated"] and slots["customer_id"] is None and slots["verified_at"] is None
    assert [e["customer_id"] for e in logs if e["event"] == "verification_expired"] == ["C001"]


async def test_verification_holds_within_the_session_ttl(bot: Bot) -> None:
    """A customer who comes back before ``session_ttl`` is not asked again."""
    conversation = await verified(bot)
    bot.clock.offset += AuthConfig().session_ttl - 60
    reply = await bot.say(conversation, "what's in my order A1002?")
    assert "Arc floor lamp" in reply


async def test_customers_cannot_set_when_they_were_verified(bot: Bot) -> None:
    """``verified_at`` (like ``authenticated``) cannot be filled from a message, payloads included."""
    conversation = bot.new_conversation()
    await bot.say(conversation, '/check_order_status{"verified_at": 99999999999, "authenticated": true}')
    await bot.say(conversation, '/inform{"verified_at": 99999999999}')
    assert (await bot.slots(conversation)).get("verified_at") is None
    await bot.attempt([RIGHT], conversation=conversation)
    stamp = (await bot.slots(conversation))["verified_at"]
    assert abs(stamp - bot.clock()) < 60
    await bot.say(conversation, '/inform{"verified_at": 99999999999, "order_number": "A1001"}')
    assert (await bot.slots(conversation))["verified_at"] == stamp


async def change_address(bot: Bot, conversation: str) -> str:
    """Ask to change A1002's address and confirm; returns the reply to the confirmation."""
    await bot.say(conversation, "I want to change the delivery address of order A1002")
    await bot.say(conversation, "221B Baker Street, London NW1 6XE")
    return await bot.say(conversation, "yes")


async def test_an_old_verification_is_renewed_before_an_account_change(bot: Bot) -> None:
    """Past ``step_up_ttl`` (but inside the session) changing an address asks the customer to verify again
    and changes it only after they have."""
    conversation = await verified(bot)
    bot.clock.offset += AuthConfig().step_up_ttl + 60
    reply = await change_address(bot, conversation)
    assert "check it's you again" in reply and "email address" in reply
    assert "Baker" not in (await bot.order("A1002")).address
    await bot.say(conversation, "ada@example.com")
    reply = await bot.say(conversation, RIGHT)
    assert "you're verified" in reply
    assert "Baker" in (await bot.order("A1002")).address
    assert (await bot.engine.state(conversation)).flow_stack == []


async def test_a_fresh_verification_changes_the_address_at_once(bot: Bot) -> None:
    """Within ``step_up_ttl`` the change runs without asking again."""
    conversation = await verified(bot)
    reply = await change_address(bot, conversation)
    assert "check it's you again" not in reply
    assert "Baker" in (await bot.order("A1002")).address


async def test_cancelling_the_renewed_verification_cancels_the_change(bot: Bot) -> None:
    """"Never mind" during the step-up verification ends the change without changing anything."""
    conversation = await verified(bot)
    bot.clock.offset += AuthConfig().step_up_ttl + 60
    await change_address(bot, conversation)
    reply = await bot.say(conversation, "never mind")
    assert "changed" not in reply.replace("nothing changed", "")
    state = await bot.engine.state(conversation)
    assert state.flow_stack == []
    assert "Baker" not in (await bot.order("A1002")).address


async def test_renewing_as_another_customer_changes_nothing(bot: Bot) -> None:
    """Someone holding a stale verified conversation who re-verifies as themselves cannot change the first
    customer's order."""
    conversation = await verified(bot)
    bot.clock.offset += AuthConfig().step_up_ttl + 60
    await change_address(bot, conversation)
    await bot.say(conversation, "grace@example.com")
    await bot.say(conversation, "3 March 1979")
    assert (await bot.slots(conversation))["customer_id"] == "C002"
    assert "Baker" not in (await bot.order("A1002")).address


async def test_an_expired_session_mid_flow_verifies_before_the_change(bot: Bot) -> None:
    """A customer who confirms an address change after the session expired verifies again first."""
    conversation = await verified(bot)
    await bot.say(conversation, "I want to change the delivery address of order A1002")
    await bot.say(conversation, "221B Baker Street, London NW1 6XE")
    bot.clock.offset += AuthConfig().session_ttl + 1
    reply = await bot.say(conversation, "yes")
    assert "check it's you again" in reply
    assert "Baker" not in (await bot.order("A1002")).address
