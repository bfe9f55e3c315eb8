"""The voice channel's settings: the ``voice:`` section of ``config.yml`` and the Twilio secrets.

The section's schema lives in the core (:mod:`bot.project.channels`, so a project is validated in full when it
loads) and is re-exported here under the names the voice modules use. Twilio credentials are deployment
secrets and never live in ``config.yml``: they come from the environment at the entry point
(:meth:`TwilioCredentials.from_env`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from bot.infra.environment import variables
from bot.project.channels import DTMFConfig, STTConfig, TTSConfig, TurnConfig, VADConfig, VoiceConfig
from bot.project.channels import VoiceHandoffConfig as HandoffConfig

__all__ = ["DTMFConfig", "HandoffConfig", "STTConfig", "TTSConfig", "TurnConfig", "TwilioCredentials", "VADConfig",
           "VoiceConfig", "webhook_auth_token"]

TWILIO_API = "https://api.twilio.com"


@dataclass(frozen=True, slots=True)
class TwilioCredentials:
    """Twilio REST credentials (auto hang-up, transfer); read once from the environment at the entry point."""

    account_sid: str
    auth_token: str
    api_base: str = TWILIO_API

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> TwilioCredentials | None:
        """``TWILIO_ACCOUNT_SID`` + ``TWILIO_AUTH_TOKEN`` (+ optional ``TWILIO_API_BASE``), or ``None``."""
        env = variables() if env is None else env
        sid, token = env.get("TWILIO_ACCOUNT_SID"), env.get("TWILIO_AUTH_TOKEN")
        if not sid or not token:
            return None
        return cls(sid, token, env.get("TWILIO_API_BASE") or TWILIO_API)


def webhook_auth_token(env: Mapping[str, str] | None = None) -> str | None:
    """``TWILIO_AUTH_TOKEN``, the key Twilio signs its webhooks with: when set, every Twilio webhook must
    carry a valid ``X-Twilio-Signature`` (with or without ``TWILIO_ACCOUNT_SID``); unset, none is checked."""
    env = variables() if env is None else env
    return env.get("TWILIO_AUTH_TOKEN") or None
