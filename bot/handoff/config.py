"""Handoff settings (``handoff:`` in a project's config.yml): routing, CSAT, masking, helpdesk connectors.

```yaml
handoff:
  routing: {regulated: compliance, emotional: care}
  default_team: general
  csat: true
  webhook:
    url: https://helpdesk.example.com/careline
```

Secrets are never written here: the config names the environment variables that hold them, and the
web app reads those once when it starts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: Reason → team used when ``routing`` does not name one (skills-based routing defaults).
DEFAULT_ROUTING: dict[str, str] = {
    "safety": "care",
    "regulated": "compliance",
    "emotional": "care",
    "auth_failed": "identity",
    "requested": "general",
    "complex": "specialists",
    "scope": "general",
    "error": "general",
}

#: Entity or slot name → how agents see a masked value of it (``[date of birth]``).
DEFAULT_MASK_LABELS: dict[str, str] = {
    "date": "date of birth",
    "email": "email",
    "phone": "phone number",
    "postcode": "postcode",
    "pin": "PIN",
    "otp_code": "one-time code",
    "identifier": "identifier",
    "verification": "verification answer",
    "new_address": "address",
}


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WebhookConfig(_Strict):
    """A generic helpdesk webhook: the context package POSTed on escalation and on status changes."""

    url: str
    """Where the signed JSON is POSTed."""
    secret_env: str = "CARELINE_WEBHOOK_SECRET"  # noqa: S105 - a variable name, not a secret
    """Environment variable holding the shared HMAC-SHA256 secret (outbound signatures and the inbound endpoint)."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Deliveries tried before giving up on one event (5xx, 429 and connection errors are retried)."""
    backoff: float = Field(default=0.5, gt=0, le=60)
    """Seconds before the first retry; doubled after each failed attempt."""
    timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds one delivery may take."""


class ChatwootConfig(_Strict):
    """Chatwoot as the agents' desk, with agent-bot semantics (``pending`` = bot, ``open`` = humans)."""

    base_url: str
    """Root of the Chatwoot installation, e.g. ``https://chatwoot.example.com``."""
    account_id: int
    """The Chatwoot account the conversations are created in."""
    inbox_id: int
    """An API-channel inbox of that account."""
    api_token_env: str = "CHATWOOT_API_TOKEN"  # noqa: S105 - a variable name, not a secret
    """Environment variable holding the agent-bot or user access token (sent as ``api_access_token``)."""
    webhook_token_env: str = "CHATWOOT_WEBHOOK_TOKEN"  # noqa: S105 - a variable name
    """Environment variable holding the secret path segment of the inbound webhook
    (``POST /api/helpdesk/chatwoot/{token}``); Chatwoot's stable releases do not sign webhooks."""
    timeout: float = Field(default=10.0, gt=0, le=120)
    """Seconds one API call may take."""


class HandoffConfig(_Strict):
    """How escalations are queued, routed, shown to agents and mirrored to helpdesks."""

    routing: dict[str, str] = Field(default_factory=dict)
    """Escalation reason → team (skill); merged over the defaults (regulated → compliance, emotional → care...)."""
    default_team: str = "general"
    """Team for reasons that no routing entry names."""
    teams: list[str] = Field(default_factory=list)
    """Extra teams agents may transfer to (every routed team is always allowed)."""
    csat: bool = False
    """Ask a 1-5 satisfaction question when an agent closes a conversation (adds the ``csat`` turn stage)."""
    reveal_sensitive_to: list[str] = Field(default_factory=list)
    """Roles that see ``sensitive`` slots and verification answers unmasked in the agent view and live
    events (default: nobody; helpdesk payloads are always masked)."""
    mask_labels: dict[str, str] = Field(default_factory=dict)
    """Entity or slot name → the placeholder agents read instead of its value; merged over the defaults
    (``date`` → ``date of birth``, ``email`` → ``email``, ``pin`` → ``PIN``, ``otp_code`` → ``one-time code``...)."""
    readable_entities: list[str] = Field(default_factory=lambda: ["order_number", "appointment_id"])
    """Entities agents always read in clear, even when they fill a sensitive slot (an order number given
    as the account identifier)."""
    mask_free_text: bool = True
    """Also mask emails, phone and card numbers, dates, street addresses, postcodes and named PINs in whatever
    else the customer writes (``bot.infra.logs.mask_text``); verification answers are masked either way."""
    summary: str = Field(default="auto", pattern="^(auto|extractive|llm)$")
    """``auto``: LLM-written when ``llm:`` is configured (falling back to extractive), else extractive."""
    webhook: WebhookConfig | None = None
    """Generic signed webhook to a helpdesk."""
    chatwoot: ChatwootConfig | None = None
    """Chatwoot connector."""

    def team_for(self, reason: str) -> str:
        """The team an escalation for ``reason`` is routed to."""
        return self.routing.get(reason) or DEFAULT_ROUTING.get(reason) or self.default_team

    def mask_label(self, name: str) -> str:
        """The placeholder text (without brackets) for a masked value of entity or slot ``name``."""
        return self.mask_labels.get(name) or DEFAULT_MASK_LABELS.get(name) or name.replace("_", " ")

    @property
    def all_teams(self) -> list[str]:
        """Every team conversations can be routed or transferred to, sorted."""
        return sorted({self.default_team, *DEFAULT_ROUTING.values(), *self.routing.values(), *self.teams})
