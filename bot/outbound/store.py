"""Campaigns, targets, attempts, the opt-out list and the scheduler's lease, in the conversation database.

Every worker shares these rows, so a restart loses nothing and two workers never make the same attempt:

* the scheduler holds a lease (:meth:`OutboundStore.acquire_lease`) while it runs a tick;
* an attempt is claimed by moving its target from ``pending`` with a known attempt count (a conditional
  ``UPDATE ... RETURNING``) and inserting ``(campaign, target, number)``, which is unique: a second claim
  of the same attempt finds nothing to update, or collides, and is dropped (at most once per attempt).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from bot.customers.registry import DataTable, register
from bot.kernel.errors import ConcurrentWriteError
from bot.outbound.config import CampaignRules
from bot.outbound.model import Attempt, Campaign, CampaignStatus, Target, TargetStatus
from bot.storage import Database

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS outbound_campaigns (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, kind TEXT NOT NULL, channel TEXT NOT NULL, flow TEXT NOT NULL,
        rules {json} NOT NULL, status TEXT NOT NULL, created_at {float} NOT NULL, params {json} NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbound_targets (
        campaign_id TEXT NOT NULL, id TEXT NOT NULL, customer_id TEXT NOT NULL, phone TEXT NOT NULL,
        timezone TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_at {float} NOT NULL,
        outcome TEXT, subject {json} NOT NULL, PRIMARY KEY (campaign_id, id))""",
    """CREATE TABLE IF NOT EXISTS outbound_attempts (
        id TEXT PRIMARY KEY, campaign_id TEXT NOT NULL, target_id TEXT NOT NULL, number INTEGER NOT NULL,
        channel TEXT NOT NULL, started_at {float} NOT NULL, provider_sid TEXT, outcome TEXT,
        ended_at {float}, detail TEXT, UNIQUE (campaign_id, target_id, number))""",
    """CREATE TABLE IF NOT EXISTS outbound_optouts (
        phone TEXT PRIMARY KEY, at {float} NOT NULL, source TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS outbound_leases (
        name TEXT PRIMARY KEY, holder TEXT NOT NULL, until {float} NOT NULL)""",
]

register(
    DataTable("outbound_campaigns", "none", None, "keep",
              "campaign definitions (name, flow, channel, rules, status): no customer data", owner="bot.outbound"),
    DataTable("outbound_targets", "customer", "customer_id", "delete",
              "who a campaign contacts: customer id, phone, time zone, the appointment or order it is about",
              owner="bot.outbound"),
    DataTable("outbound_attempts", "none", None, "keep",
              "attempts by target id: times, provider call id, outcome; the phone and customer id are on the "
              "target row, erased with it", owner="bot.outbound"),
    DataTable("outbound_optouts", "customer", "phone", "keep",
              "the do-not-contact list, by phone: kept through erasure so an opted-out number is never called "
              "again", owner="bot.outbound"),
    DataTable("outbound_leases", "none", None, "keep", "which worker runs the scheduler: no customer data",
              owner="bot.outbound"),
)


def _campaign(row: dict[str, Any]) -> Campaign:
    return Campaign(row["id"], row["name"], row["kind"], row["channel"], row["flow"],
                    CampaignRules.model_validate(json.loads(row["rules"])), CampaignStatus(row["status"]),
                    float(row["created_at"]), json.loads(row["params"]))


def _target(row: dict[str, Any]) -> Target:
    return Target(row["campaign_id"], row["id"], row["customer_id"], row["phone"], row["timezone"],
                  TargetStatus(row["status"]), int(row["attempts"]), float(row["next_at"]), row["outcome"],
                  json.loads(row["subject"]))


def _attempt(row: dict[str, Any]) -> Attempt:
    return Attempt(row["id"], row["campaign_id"], row["target_id"], int(row["number"]), row["channel"],
                   float(row["started_at"]), row["provider_sid"], row["outcome"],
                   None if row["ended_at"] is None else float(row["ended_at"]), row["detail"])


class OutboundStore:
    """SQL for campaigns (SQLite or PostgreSQL, whichever the conversations use)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def setup(self) -> None:
        await self.db.migrate(SCHEMA)

    # --- campaigns --------------------------------------------------------------------------

    async def create(self, campaign: Campaign, targets: list[Target]) -> None:
        """Store ``campaign`` with its targets, all or nothing."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "INSERT INTO outbound_campaigns (id, name, kind, channel, flow, rules, status, created_at, params)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", campaign.id, campaign.name, campaign.kind, campaign.channel,
                campaign.flow, campaign.rules.model_dump_json(), str(campaign.status), campaign.created_at,
                json.dumps(campaign.params))
            for t in targets:
                await tx.execute(
                    "INSERT INTO outbound_targets (campaign_id, id, customer_id, phone, timezone, status, attempts,"
                    " next_at, outcome, subject) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", t.campaign_id, t.id,
                    t.customer_id, t.phone, t.timezone, str(t.status), t.attempts, t.next_at, t.outcome,
                    json.dumps(t.subject))

    async def campaign(self, campaign_id: str) -> Campaign | None:
        row = await self.db.fetchrow("SELECT * FROM outbound_campaigns WHERE id = ?", campaign_id)
        return _campaign(row) if row else None

    async def campaigns(self, *, status: CampaignStatus | None = None) -> list[Campaign]:
        if status is None:
            rows = await self.db.fetch("SELECT * FROM outbound_campaigns ORDER BY created_at DESC")
        else:
            rows = await self.db.fetch("SELECT * FROM outbound_campaigns WHERE status = ? ORDER BY created_at",
                                       str(status))
        return [_campaign(r) for r in rows]

    async def set_status(self, campaign_id: str, status: CampaignStatus, *, unless: tuple[str, ...] = ()) -> bool:
        """Set the campaign's status (not when it is in ``unless``); whether it changed."""
        marks = ", ".join("?" for _ in unless) or "''"
        rows = await self.db.fetch(f"UPDATE outbound_campaigns SET status = ? WHERE id = ? AND status NOT IN ({marks})"  # noqa: S608
                                   " RETURNING id", str(status), campaign_id, *unless)
        return bool(rows)

    # --- targets ----------------------------------------------------------------------------

    async def targets(self, campaign_id: str) -> list[Target]:
        rows = await self.db.fetch("SELECT * FROM outbound_targets WHERE campaign_id = ? ORDER BY next_at, id",
                                   campaign_id)
        return [_target(r) for r in rows]

    async def target(self, campaign_id: str, target_id: str) -> Target | None:
        row = await self.db.fetchrow("SELECT * FROM outbound_targets WHERE campaign_id = ? AND id = ?",
                                     campaign_id, target_id)
        return _target(row) if row else None

    async def due_targets(self, campaign_id: str, now: float, *, limit: int) -> list[Target]:
        rows = await self.db.fetch(
            "SELECT * FROM outbound_targets WHERE campaign_id = ? AND status = ? AND next_at <= ?"
            " ORDER BY next_at, id LIMIT ?", campaign_id, str(TargetStatus.PENDING), now, limit)
        return [_target(r) for r in rows]

    async def pending_count(self, campaign_id: str) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM outbound_targets WHERE campaign_id = ? AND status <> ?",
            campaign_id, str(TargetStatus.DONE)) or 0)

    async def defer(self, target: Target, until: float) -> None:
        await self.db.execute("UPDATE outbound_targets SET next_at = ? WHERE campaign_id = ? AND id = ? AND status = ?",
                              until, target.campaign_id, target.id, str(TargetStatus.PENDING))

    async def finish_target(self, campaign_id: str, target_id: str, outcome: str) -> None:
        await self.db.execute("UPDATE outbound_targets SET status = ?, outcome = ? WHERE campaign_id = ? AND id = ?",
                              str(TargetStatus.DONE), outcome, campaign_id, target_id)

    async def retry_target(self, campaign_id: str, target_id: str, outcome: str, next_at: float) -> None:
        await self.db.execute(
            "UPDATE outbound_targets SET status = ?, outcome = ?, next_at = ? WHERE campaign_id = ? AND id = ?",
            str(TargetStatus.PENDING), outcome, next_at, campaign_id, target_id)

    # --- attempts ---------------------------------------------------------------------------

    async def claim_attempt(self, target: Target, channel: str, now: float) -> Attempt | None:
        """Attempt number ``target.attempts + 1``, or ``None`` when another claim got there first."""
        number = target.attempts + 1
        attempt = Attempt(uuid.uuid4().hex[:16], target.campaign_id, target.id, number, channel, now)  # type: ignore[arg-type]
        try:
            async with self.db.transaction() as tx:
                moved = await tx.fetch(
                    "UPDATE outbound_targets SET status = ?, attempts = ? WHERE campaign_id = ? AND id = ?"
                    " AND status = ? AND attempts = ? RETURNING id", str(TargetStatus.ACTIVE), number,
                    target.campaign_id, target.id, str(TargetStatus.PENDING), target.attempts)
                if not moved:
                    return None
                await tx.execute(
                    "INSERT INTO outbound_attempts (id, campaign_id, target_id, number, channel, started_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", attempt.id, attempt.campaign_id, attempt.target_id, number,
                    channel, now)
        except ConcurrentWriteError:
            return None
        return attempt

    async def attempt(self, attempt_id: str) -> Attempt | None:
        row = await self.db.fetchrow("SELECT * FROM outbound_attempts WHERE id = ?", attempt_id)
        return _attempt(row) if row else None

    async def attempts(self, campaign_id: str) -> list[Attempt]:
        rows = await self.db.fetch("SELECT * FROM outbound_attempts WHERE campaign_id = ? ORDER BY started_at, id",
                                   campaign_id)
        return [_attempt(r) for r in rows]

    async def open_attempts(self, *, channel: str, phone: str) -> list[tuple[Attempt, Target]]:
        """Attempts on ``channel`` to ``phone`` still awaiting an answer (newest first)."""
        rows = await self.db.fetch(
            "SELECT a.id AS attempt_id, t.* FROM outbound_attempts a JOIN outbound_targets t"
            " ON t.campaign_id = a.campaign_id AND t.id = a.target_id"
            " WHERE a.channel = ? AND t.phone = ? AND a.outcome = 'sent'"
            " ORDER BY a.started_at DESC", channel, phone)
        found = []
        for row in rows:
            attempt = await self.attempt(row["attempt_id"])
            if attempt is not None:
                found.append((attempt, _target(row)))
        return found

    async def stale_attempts(self, before: float) -> list[Attempt]:
        """Attempts started before ``before`` that never got an outcome (a lost status callback, a crash)."""
        rows = await self.db.fetch("SELECT * FROM outbound_attempts WHERE outcome IS NULL AND started_at < ?",
                                   before)
        return [_attempt(r) for r in rows]

    async def attempts_since(self, campaign_id: str, since: float) -> int:
        return int(await self.db.fetchval(
            "SELECT COUNT(*) FROM outbound_attempts WHERE campaign_id = ? AND started_at >= ?",
            campaign_id, since) or 0)

    async def set_provider_sid(self, attempt_id: str, sid: str) -> None:
        await self.db.execute("UPDATE outbound_attempts SET provider_sid = ? WHERE id = ?", sid, attempt_id)

    async def end_attempt(self, attempt_id: str, outcome: str, now: float, *, detail: str | None = None,
                          final: bool = True) -> bool:
        """Record ``outcome``; ``final`` ones are set once (a second report is ignored): whether it was set."""
        guard = " AND (outcome IS NULL OR outcome = 'sent')" if final else ""
        rows = await self.db.fetch(
            f"UPDATE outbound_attempts SET outcome = ?, ended_at = ?, detail = ? WHERE id = ?{guard} RETURNING id",  # noqa: S608
            outcome, now, detail, attempt_id)
        return bool(rows)

    async def outcome_counts(self, *, campaign_id: str | None = None, since: float | None = None) -> dict[str, int]:
        """Targets by outcome (the last outcome each target reached)."""
        sql = "SELECT t.outcome AS outcome, COUNT(*) AS n FROM outbound_targets t"
        where, args = ["t.outcome IS NOT NULL"], list[Any]()
        if campaign_id is not None:
            where.append("t.campaign_id = ?")
            args.append(campaign_id)
        if since is not None:
            sql += " JOIN outbound_campaigns c ON c.id = t.campaign_id"
            where.append("c.created_at >= ?")
            args.append(since)
        rows = await self.db.fetch(f"{sql} WHERE {' AND '.join(where)} GROUP BY t.outcome", *args)
        return {r["outcome"]: int(r["n"]) for r in rows}

    async def attempt_outcomes(self, since: float, until: float) -> dict[str, int]:
        """Attempts by outcome, for attempts started in ``[since, until)`` (the KPIs' window)."""
        rows = await self.db.fetch(
            "SELECT COALESCE(outcome, 'in_progress') AS outcome, COUNT(*) AS n FROM outbound_attempts"
            " WHERE started_at >= ? AND started_at < ? GROUP BY COALESCE(outcome, 'in_progress')", since, until)
        return {r["outcome"]: int(r["n"]) for r in rows}

    # --- opt-outs ---------------------------------------------------------------------------

    async def opt_out(self, phone: str, *, source: str, now: float) -> None:
        """Put ``phone`` on the opt-out list (every campaign honours it; a second opt-out keeps the first)."""
        await self.db.execute("INSERT INTO outbound_optouts (phone, at, source) VALUES (?, ?, ?)"
                              " ON CONFLICT (phone) DO NOTHING", phone, now, source)

    async def opted_out(self, phone: str) -> bool:
        return await self.db.fetchval("SELECT 1 FROM outbound_optouts WHERE phone = ?", phone) is not None

    async def opt_outs(self) -> int:
        return int(await self.db.fetchval("SELECT COUNT(*) FROM outbound_optouts") or 0)

    # --- the scheduler's lease --------------------------------------------------------------

    async def acquire_lease(self, name: str, holder: str, now: float, ttl: float) -> bool:
        """Hold (or renew) the lease ``name`` until ``now + ttl``; ``False`` while another holder has it."""
        rows = await self.db.fetch(
            "UPDATE outbound_leases SET holder = ?, until = ? WHERE name = ? AND (holder = ? OR until < ?)"
            " RETURNING holder", holder, now + ttl, name, holder, now)
        if rows:
            return True
        rows = await self.db.fetch("INSERT INTO outbound_leases (name, holder, until) VALUES (?, ?, ?)"
                                   " ON CONFLICT (name) DO NOTHING RETURNING holder", name, holder, now + ttl)
        return bool(rows)

    async def release_lease(self, name: str, holder: str) -> None:
        await self.db.execute("DELETE FROM outbound_leases WHERE name = ? AND holder = ?", name, holder)
