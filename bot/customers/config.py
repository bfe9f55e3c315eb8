"""Customer continuity and data-retention settings: ``customers:`` and ``retention:`` in a project's config.yml.

```yaml
customers:
  resume_window: 86400          # seconds: an open matter this recent is offered on the next verified contact
  erase_confirmation: two_person  # none (default) | two_person: a second operator confirms each erasure
  identity_token:               # the widget's signed-in user (HS256 JWT from the embedding site)
    secret_env: NORTHWIND_WIDGET_JWT_SECRET
    issuer: https://shop.example.com
    audience: careline-widget
retention:                      # days each kind of data is kept; unset keeps it
  transcripts: 365
  sensitive_slots: 30
  drop_sensitive_at_end: true   # a conversation's sensitive slot values go when it ends
  voice_audio: 30
  qa_scores: 730
  audit_log: 2555
```

Secrets are never written here: the config names the environment variable that holds one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DAY = 86_400.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IdentityTokenConfig(_Strict):
    """How the widget checks the embedding site's signed token (see docs/customers.md for the claims)."""

    secret_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the shared HS256 secret (read once at start-up; at least 32 bytes)."""
    issuer: str
    """The ``iss`` claim every token must carry: the embedding site."""
    audience: str = "careline-widget"
    """The ``aud`` claim every token must carry (a token minted for another service is refused)."""
    max_age: float = Field(default=3600.0, gt=0, le=86_400)
    """Seconds after its ``iat`` a token is still accepted (its own ``exp`` may only be shorter)."""
    leeway: float = Field(default=30.0, ge=0, le=300)
    """Seconds of clock difference tolerated between the site and this server."""


class CustomersConfig(_Strict):
    """One customer across channels."""

    resume_window: float = Field(default=86_400.0, ge=0, le=30 * DAY)
    """Seconds since an other conversation's last event for its open matter to be offered after verification
    (``0`` never offers)."""
    max_offered: int = Field(default=5, ge=1, le=50)
    """How many of the customer's latest conversations are looked at for an open matter."""
    erase_confirmation: Literal["none", "two_person"] = "none"
    """``two_person``: an erasure asked for by one operator runs only when a second, different one confirms it."""
    identity_token: IdentityTokenConfig | None = None
    """Accept a signed token from the embedding site as the widget session's verification (off when unset)."""


class RetentionConfig(_Strict):
    """How long each kind of data is kept, in days (``None``: kept until erased on request)."""

    transcripts: float | None = Field(default=None, gt=0)
    """What customers, the bot and agents wrote, counted from the conversation's last event; the texts are
    redacted in place (events, intents, timings and CSAT stay, so KPIs keep their counts)."""
    sensitive_slots: float | None = Field(default=None, gt=0)
    """Values of slots the domain marks ``sensitive``, counted from when they were set."""
    drop_sensitive_at_end: bool = False
    """Drop a conversation's sensitive slot values as soon as it ends (the rest is kept)."""
    voice_audio: float | None = Field(default=None, gt=0)
    """Call recordings (``voice.record``), counted from the end of the call."""
    qa_scores: float | None = Field(default=None, gt=0)
    """Quality-review scores, counted from when they were given."""
    audit_log: float | None = Field(default=None, gt=0)
    """Audit rows (agent actions, verification lockouts, erasures), counted from when they were written."""
    batch_size: int = Field(default=500, ge=1, le=100_000)
    """Rows changed per transaction by the retention job."""
    interval: float = Field(default=3600.0, ge=60, le=7 * DAY)
    """Seconds between two runs of the retention job in a serving process."""
