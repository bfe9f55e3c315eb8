"""Outbound campaigns: confirmation calls and reminders the bot starts itself.

A :class:`Campaign` = targets read from the backend (tomorrow's appointments, delayed orders) + the flow to
run + a channel (voice, sms, webhook) + rules (calling window in the customer's time zone, quiet hours,
attempts and their spacing, opt-outs, a rate). :class:`OutboundService` stores them, schedules attempts
once across workers (the store's lease) and records outcomes; the connectors supply the channels.
"""

from bot.outbound.clock import Clock, FrozenClock, system_clock
from bot.outbound.config import CampaignRules, OutboundConfig, TimeRange
from bot.outbound.errors import CampaignConflict, CampaignInvalid, CampaignNotFound
from bot.outbound.greeting import detect_voicemail_greeting, machine_answered
from bot.outbound.model import OUTCOMES, Attempt, Campaign, CampaignStatus, Outcome, Target, TargetStatus
from bot.outbound.script import CallScript, Step
from bot.outbound.service import OutboundContact, OutboundService, Sender
from bot.outbound.store import OutboundStore

__all__ = ["OUTCOMES", "Attempt", "CallScript", "Campaign", "CampaignConflict", "CampaignInvalid", "CampaignNotFound",
           "CampaignRules", "CampaignStatus", "Clock", "FrozenClock", "OutboundConfig", "OutboundContact",
           "OutboundService", "OutboundStore", "Outcome", "Sender", "Step", "Target", "TargetStatus", "TimeRange",
           "detect_voicemail_greeting", "machine_answered", "system_clock"]
