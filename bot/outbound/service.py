"""The outbound service: create campaigns from the backend, run the scheduler, record what each contact did.

:meth:`OutboundService.tick` is one pass of the scheduler. It runs only while this process holds the store's
lease (so a tick happens once across workers), claims each due attempt in the store before making it (at
most once per attempt, also across a restart) and checks, for every target, the opt-out list, the calling
window and quiet hours in the customer's time zone, attempts left and the campaign's rate. Channels are
injected :class:`Sender`\\ s (the connectors register Twilio voice, Twilio Messaging and webhooks): the core
never speaks HTTP. Outcomes come back through :meth:`report` (a status callback, the call's dialogue, an SMS
reply) and are final once recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import ValidationError

from bot.flows.backend.base import Backend, BackendConflict
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.outbound import wording
from bot.outbound.clock import Clock, system_clock
from bot.outbound.config import CampaignRules, OutboundConfig
from bot.outbound.errors import CampaignConflict, CampaignInvalid, CampaignNotFound
from bot.outbound.model import (
    CHANNELS,
    TARGET_KINDS,
    Attempt,
    Campaign,
    CampaignStatus,
    Outcome,
    Target,
    TargetStatus,
    mask_phone,
)
from bot.outbound.rules import local_day, next_allowed, zone
from bot.outbound.script import CallScript
from bot.outbound.store import OutboundStore

log = get_logger(__name__)

LEASE = "outbound-scheduler"
#: An attempt without any outcome after this long is recorded as failed (its status callback was lost).
STALE_SECS = 30 * 60
FLOWS = {"appointments": "appointment_confirmation", "delayed_orders": "order_delay"}


@dataclass(frozen=True, slots=True)
class OutboundContact:
    """One attempt handed to a channel: who, about what, and (for messages) the text to send."""

    attempt: Attempt
    target: Target
    campaign: Campaign
    text: str


class Sender(Protocol):
    """A channel's way out: place the call or send the message; returns the provider's id for it.
    Raises :class:`~bot.kernel.errors.ProviderError` when the provider refuses or cannot be reached."""

    async def send(self, contact: OutboundContact) -> str: ...


@dataclass(slots=True)
class OutboundService:
    """Campaigns over one store and one backend."""

    store: OutboundStore
    backend: Backend
    config: OutboundConfig = field(default_factory=lambda: OutboundConfig())
    clock: Clock = system_clock
    senders: dict[str, Sender] = field(default_factory=dict)
    holder: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    """This process's name on the lease."""
    lease_secs: float = 30.0

    async def setup(self) -> None:
        await self.store.setup()

    # --- campaigns --------------------------------------------------------------------------

    async def create(self, spec: dict[str, Any]) -> Campaign:
        """A campaign from ``spec`` (``name``, ``kind``, ``channel``, optional ``day``, ``rules``, ``webhook_url``),
        with its targets read from the backend now; :class:`CampaignInvalid` names what is wrong."""
        kind, channel = spec.get("kind"), spec.get("channel")
        if kind not in TARGET_KINDS:
            raise CampaignInvalid(f"'kind' must be one of {', '.join(TARGET_KINDS)}, got {kind!r}")
        if channel not in CHANNELS:
            raise CampaignInvalid(f"'channel' must be one of {', '.join(CHANNELS)}, got {channel!r}")
        if kind == "delayed_orders" and channel == "voice":
            raise CampaignInvalid("order-delay notices go by 'sms' or 'webhook' (they carry a link back into chat)")
        if channel == "webhook" and not str(spec.get("webhook_url", "")).startswith(("http://", "https://")):
            raise CampaignInvalid("a webhook campaign needs 'webhook_url' (http:// or https://)")
        try:
            rules = CampaignRules.model_validate({**self.config.rules.model_dump(), **(spec.get("rules") or {})})
        except ValidationError as exc:
            raise CampaignInvalid(f"invalid 'rules': {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from exc
        now = self.clock()
        home = zone(self.config.timezone, "UTC")
        day = spec.get("day") or local_day(now, home, offset_days=1)
        if not isinstance(day, str) or len(day) != 10:
            raise CampaignInvalid(f"'day' must be an ISO date (YYYY-MM-DD), got {day!r}")
        name = str(spec.get("name") or f"{kind} {day}")[:120]
        params = {"day": day, **({"webhook_url": spec["webhook_url"]} if channel == "webhook" else {})}
        campaign = Campaign(uuid.uuid4().hex[:12], name, kind, channel, FLOWS[kind], rules,  # type: ignore[arg-type]
                            CampaignStatus.ACTIVE, now, params)
        targets = await self._targets(campaign, day, now)
        await self.store.create(campaign, targets)
        log.info("outbound_campaign_created", campaign_id=campaign.id, kind=kind, channel=channel,
                 targets=len(targets))
        return campaign

    async def _targets(self, campaign: Campaign, day: str, now: float) -> list[Target]:
        subjects: list[tuple[str, dict[str, Any]]] = []
        try:
            if campaign.kind == "appointments":
                for a in await self.backend.appointments_on(day):
                    subjects.append((a.customer_id, {"id": a.id, "service": a.service, "clinician": a.clinician,
                                                     "start": a.start}))
            else:
                for o in await self.backend.delayed_orders(local_day(now, zone(self.config.timezone, "UTC"))):
                    subjects.append((o.customer_id, {"id": o.id, "order_id": o.id, "eta": o.eta}))
        except NotImplementedError as exc:
            raise CampaignInvalid(str(exc)) from exc
        targets = []
        for customer_id, subject in subjects:
            contact = await self.backend.contact(customer_id)
            if contact is None:
                log.warning("outbound_target_unreachable", customer_id=customer_id, reason="no phone on file")
                continue
            subject["first_name"] = contact.name.split()[0] if contact.name else None
            targets.append(Target(campaign.id, subject["id"], customer_id, contact.phone,
                                  contact.timezone or self.config.timezone, TargetStatus.PENDING, 0, now,
                                  subject=subject))
        return targets

    async def get(self, campaign_id: str) -> Campaign:
        campaign = await self.store.campaign(campaign_id)
        if campaign is None:
            raise CampaignNotFound(f"no campaign {campaign_id!r}")
        return campaign

    async def view(self, campaign_id: str) -> dict[str, Any]:
        """The campaign with its targets (phones masked), attempts and outcome counts."""
        campaign = await self.get(campaign_id)
        return {"campaign": campaign.to_dict(),
                "targets": [t.to_dict() for t in await self.store.targets(campaign_id)],
                "attempts": [a.to_dict() for a in await self.store.attempts(campaign_id)],
                "outcomes": await self.store.outcome_counts(campaign_id=campaign_id)}

    async def summary(self) -> dict[str, Any]:
        """Every campaign with its outcome counts, and the totals (the console's tab, the KPIs)."""
        campaigns = []
        for c in await self.store.campaigns():
            campaigns.append({**c.to_dict(), "outcomes": await self.store.outcome_counts(campaign_id=c.id),
                              "open": await self.store.pending_count(c.id)})
        return {"campaigns": campaigns, "outcomes": await self.store.outcome_counts(),
                "opted_out_numbers": await self.store.opt_outs()}

    async def set_status(self, campaign_id: str, action: str) -> Campaign:
        """``pause``, ``resume`` or ``cancel``; :class:`CampaignConflict` when the campaign has ended."""
        campaign = await self.get(campaign_id)
        ended = (str(CampaignStatus.CANCELLED), str(CampaignStatus.DONE))
        status = {"pause": CampaignStatus.PAUSED, "resume": CampaignStatus.ACTIVE,
                  "cancel": CampaignStatus.CANCELLED}.get(action)
        if status is None:
            raise CampaignInvalid(f"unknown action {action!r}: pause, resume or cancel")
        if not await self.store.set_status(campaign_id, status, unless=ended):
            raise CampaignConflict(f"campaign {campaign_id} is {campaign.status}: it cannot {action}")
        log.info("outbound_campaign_status", campaign_id=campaign_id, status=str(status))
        return await self.get(campaign_id)

    # --- the scheduler ----------------------------------------------------------------------

    async def tick(self) -> list[Attempt]:
        """One scheduler pass (a no-op unless this process holds the lease); the attempts it made."""
        now = self.clock()
        if not await self.store.acquire_lease(LEASE, self.holder, now, self.lease_secs):
            return []
        for stale in await self.store.stale_attempts(now - STALE_SECS):
            await self.report(stale.id, Outcome.FAILED, detail="no outcome reported")
        made: list[Attempt] = []
        for campaign in await self.store.campaigns(status=CampaignStatus.ACTIVE):
            made += await self._run_campaign(campaign, now)
            if await self.store.pending_count(campaign.id) == 0:
                await self.store.set_status(campaign.id, CampaignStatus.DONE,
                                            unless=(str(CampaignStatus.CANCELLED), str(CampaignStatus.PAUSED)))
                log.info("outbound_campaign_done", campaign_id=campaign.id)
        return made

    async def _run_campaign(self, campaign: Campaign, now: float) -> list[Attempt]:
        budget = campaign.rules.rate_per_minute - await self.store.attempts_since(campaign.id, now - 60)
        made: list[Attempt] = []
        for target in await self.store.due_targets(campaign.id, now, limit=500):
            if await self.store.opted_out(target.phone):
                await self.store.finish_target(campaign.id, target.id, str(Outcome.OPTED_OUT))
                log.info("outbound_target_opted_out", campaign_id=campaign.id, target=target.id)
                continue
            allowed = next_allowed(campaign.rules, now, zone(target.timezone, self.config.timezone))
            if allowed is None:
                await self.store.finish_target(campaign.id, target.id, str(Outcome.FAILED))
                log.warning("outbound_target_never_allowed", campaign_id=campaign.id, target=target.id)
                continue
            if allowed > now:
                await self.store.defer(target, allowed)
                continue
            if budget <= 0:
                break
            attempt = await self.store.claim_attempt(target, campaign.channel, now)
            if attempt is None:
                continue
            budget -= 1
            made.append(attempt)
            await self._send(OutboundContact(attempt, target, campaign, self._text(campaign, target)))
        return made

    def _text(self, campaign: Campaign, target: Target) -> str:
        if campaign.channel == "voice":
            return ""
        return wording.reminder(self.config, target.subject, target.subject.get("first_name"))

    async def _send(self, contact: OutboundContact) -> None:
        attempt, channel = contact.attempt, contact.campaign.channel
        sender = self.senders.get(channel)
        if sender is None:
            await self.report(attempt.id, Outcome.FAILED, detail=f"no {channel} channel is configured")
            return
        try:
            sid = await sender.send(contact)
        except ProviderError as exc:
            log.warning("outbound_send_failed", attempt_id=attempt.id, channel=channel, error=str(exc))
            await self.report(attempt.id, Outcome.FAILED, detail=str(exc)[:200])
            return
        await self.store.set_provider_sid(attempt.id, sid)
        log.info("outbound_attempt_made", attempt_id=attempt.id, campaign_id=attempt.campaign_id, channel=channel,
                 number=attempt.number, phone=mask_phone(contact.target.phone))
        if channel != "voice":
            await self.report(attempt.id, Outcome.SENT)

    async def run(self, *, interval: float = 5.0, stop: asyncio.Event | None = None) -> None:
        """Tick every ``interval`` seconds until ``stop`` is set (or the task is cancelled)."""
        stop = stop or asyncio.Event()
        while not stop.is_set():
            try:
                await self.tick()
            except (ProviderError, BackendConflict) as exc:
                log.error("outbound_tick_failed", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
        await self.store.release_lease(LEASE, self.holder)

    # --- outcomes ---------------------------------------------------------------------------

    async def report(self, attempt_id: str, outcome: Outcome, *, detail: str | None = None) -> bool:
        """Record how an attempt went (once: later reports are ignored) and move its target on: finished,
        or another attempt after the retry spacing when nobody was reached. Whether it was recorded."""
        attempt = await self.store.attempt(attempt_id)
        if attempt is None:
            return False
        now = self.clock()
        if not await self.store.end_attempt(attempt_id, str(outcome), now, detail=detail):
            return False
        target = await self.store.target(attempt.campaign_id, attempt.target_id)
        campaign = await self.store.campaign(attempt.campaign_id)
        if target is None or campaign is None:
            return True
        if outcome is Outcome.OPTED_OUT:
            await self.store.opt_out(target.phone, source=f"{attempt.channel}:{attempt.id}", now=now)
        if outcome.retry and target.attempts < campaign.rules.max_attempts:
            await self.store.retry_target(campaign.id, target.id, str(outcome), now + campaign.rules.retry_spacing_secs)
        else:
            await self.store.finish_target(campaign.id, target.id, str(outcome))
        log.info("outbound_outcome", attempt_id=attempt_id, campaign_id=campaign.id, outcome=str(outcome))
        return True

    async def script(self, attempt_id: str) -> CallScript | None:
        """The keypad dialogue of a voice attempt (``None`` for an unknown attempt)."""
        attempt = await self.store.attempt(attempt_id)
        target = await self.store.target(attempt.campaign_id, attempt.target_id) if attempt else None
        if attempt is None or target is None:
            return None
        return CallScript(self.backend, self.config, attempt.id, target.customer_id, target.subject,
                          target.subject.get("first_name"))

    async def reply(self, phone: str, text: str) -> str:
        """A message from ``phone`` answering a reminder: ``C`` confirms, ``STOP`` opts out (of everything,
        even with no reminder open). Returns the text to answer with."""
        word = text.strip().upper()
        open_attempts = await self.store.open_attempts(channel="sms", phone=phone)
        if word in ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"):
            await self.store.opt_out(phone, source="sms-reply", now=self.clock())
            for attempt, _target in open_attempts:
                await self.report(attempt.id, Outcome.OPTED_OUT)
            log.info("outbound_opt_out", phone=mask_phone(phone), channel="sms")
            return wording.REPLY_OPTED_OUT
        if word in ("C", "CONFIRM", "YES", "Y") and open_attempts:
            attempt, target = open_attempts[0]
            if "order_id" in target.subject:
                return wording.REPLY_UNKNOWN
            await self.backend.confirm_appointment(str(target.subject["id"]),
                                                   key=f"outbound:{attempt.id}:confirm:{target.id}")
            await self.report(attempt.id, Outcome.CONFIRMED)
            return wording.REPLY_CONFIRMED
        return wording.REPLY_UNKNOWN
