"""The channels outbound campaigns use: calls through Twilio's REST API, messages through Twilio Messaging, and a
plain webhook for any other sender. Each is a :class:`bot.outbound.Sender`; Twilio errors become
:class:`~bot.kernel.errors.ProviderError` here, where they enter.

A placed call asks Twilio for answering-machine detection (``MachineDetection=Enable``: the answer webhook
then carries ``AnsweredBy``) and for status callbacks, both on URLs under :attr:`OutboundLinks.public_url`
naming the attempt (Twilio signs them with the account's auth token, like every webhook).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.infra.environment import variables
from bot.infra.logs import get_logger
from bot.kernel.errors import ProviderError
from bot.outbound import OutboundContact
from connectors.voice.config import TwilioCredentials

log = get_logger(__name__)

TIMEOUT_SECS = 10


@dataclass(frozen=True, slots=True)
class OutboundLinks:
    """Where Twilio reaches this deployment, and the number it calls and texts from (from the environment)."""

    public_url: str
    """``CARELINE_PUBLIC_URL``: this app as Twilio sees it (``https://care.example.com``)."""
    from_number: str
    """``TWILIO_FROM_NUMBER``: the caller id / sender of every outbound call and message."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OutboundLinks | None:
        env = variables() if env is None else env
        url, number = env.get("CARELINE_PUBLIC_URL"), env.get("TWILIO_FROM_NUMBER")
        if not url or not number:
            return None
        return cls(url.rstrip("/"), number)

    def answer_url(self, attempt_id: str) -> str:
        return f"{self.public_url}/voice/outbound/answer?attempt={attempt_id}"

    def status_url(self, attempt_id: str) -> str:
        return f"{self.public_url}/voice/outbound/status?attempt={attempt_id}"


async def _twilio_post(credentials: TwilioCredentials, resource: str, form: list[tuple[str, str]]) -> dict[str, Any]:
    url = f"{credentials.api_base.rstrip('/')}/2010-04-01/Accounts/{credentials.account_sid}/{resource}.json"
    headers = {"Authorization": aiohttp.encode_basic_auth(credentials.account_sid, credentials.auth_token)}
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECS)) as session, \
                session.post(url, headers=headers, data=form) as response:
            if response.status >= 400:
                body = (await response.text())[:200]
                raise ProviderError(f"Twilio refused {resource}: HTTP {response.status} {body}", provider="twilio",
                                    permanent=response.status < 500)
            data: dict[str, Any] = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise ProviderError(f"Twilio unreachable ({resource}): {exc}", provider="twilio") from exc
    if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
        raise ProviderError(f"Twilio answered {resource} without a sid", provider="twilio")
    return data


@dataclass(frozen=True, slots=True)
class TwilioCalls:
    """Places a campaign's calls (``POST Calls.json``) with machine detection and status callbacks."""

    credentials: TwilioCredentials
    links: OutboundLinks

    async def send(self, contact: OutboundContact) -> str:
        attempt = contact.attempt.id
        form = [("To", contact.target.phone), ("From", self.links.from_number), ("Url", self.links.answer_url(attempt)),
                ("Method", "POST"), ("MachineDetection", "Enable"),
                ("StatusCallback", self.links.status_url(attempt)), ("StatusCallbackMethod", "POST"),
                ("StatusCallbackEvent", "completed")]
        data = await _twilio_post(self.credentials, "Calls", form)
        return str(data["sid"])


@dataclass(frozen=True, slots=True)
class TwilioMessages:
    """Sends a campaign's messages (``POST Messages.json``); replies come to ``/sms/inbound``."""

    credentials: TwilioCredentials
    links: OutboundLinks

    async def send(self, contact: OutboundContact) -> str:
        form = [("To", contact.target.phone), ("From", self.links.from_number), ("Body", contact.text)]
        data = await _twilio_post(self.credentials, "Messages", form)
        return str(data["sid"])


@dataclass(frozen=True, slots=True)
class WebhookSender:
    """Hands each contact to another sender as JSON (``POST`` to the campaign's ``webhook_url``)."""

    async def send(self, contact: OutboundContact) -> str:
        url = str(contact.campaign.params.get("webhook_url", ""))
        body = {"campaign_id": contact.campaign.id, "attempt_id": contact.attempt.id, "target_id": contact.target.id,
                "to": contact.target.phone, "text": contact.text, "flow": contact.campaign.flow}
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECS)) as session, \
                    session.post(url, json=body) as response:
                if response.status >= 400:
                    raise ProviderError(f"the webhook refused the contact: HTTP {response.status}", provider="webhook",
                                        permanent=response.status < 500)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"the webhook is unreachable: {exc}", provider="webhook") from exc
        return f"webhook-{contact.attempt.id}"
